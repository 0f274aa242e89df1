"""The OVHcloud Managed Kubernetes cluster, its node pool, and a Kubernetes provider for both."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_ovh import cloudproject

from components.config import ClusterConfig, NodePoolConfig


@dataclass(frozen=True)
class ClusterArgs:
    cluster: ClusterConfig
    node_pool: NodePoolConfig


class OvhCluster(pulumi.ComponentResource):
    """An MKS cluster and node pool; `provider` deploys onto it once the nodes exist."""

    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sticky-sessions:index:OvhCluster", name, None, opts)
        cluster, pool = args.cluster, args.node_pool
        protected = pulumi.ResourceOptions(parent=self, protect=cluster.protect)

        self.kube = cloudproject.Kube(
            f"{name}-kube",
            service_name=cluster.service_name,
            name=cluster.name,
            region=cluster.region,
            version=cluster.version,
            update_policy=cluster.update_policy,
            private_network_id=cluster.private_network_id,
            opts=protected,
        )
        self.node_pool = cloudproject.KubeNodePool(
            f"{name}-node-pool",
            service_name=cluster.service_name,
            kube_id=self.kube.id,
            name=pool.name,
            flavor_name=pool.flavor,
            desired_nodes=pool.desired_nodes,
            min_nodes=pool.lowest,
            max_nodes=pool.highest,
            autoscale=pool.autoscale,
            anti_affinity=pool.anti_affinity,
            monthly_billed=pool.monthly_billed,
            opts=protected,
        )
        self.kubeconfig = pulumi.Output.secret(self.kube.kubeconfig)
        self.cluster_id = self.kube.id
        self.cluster_name = self.kube.name
        self.region = self.kube.region
        self.kubernetes_version = self.kube.version
        self.provider = k8s.Provider(
            f"{name}-kubernetes",
            kubeconfig=self.kubeconfig,
            # Only a new cluster replaces the provider; a rotated or reset kubeconfig updates it.
            cluster_identifier=self.kube.id,
            # `pulumi destroy` still finishes when the cluster is already gone.
            delete_unreachable=True,
            # Pods need nodes: everything deployed through this provider waits for the pool.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.node_pool]),
        )
        self.register_outputs(
            {
                "kubeconfig": self.kubeconfig,
                "clusterId": self.cluster_id,
                "clusterName": self.cluster_name,
                "region": self.region,
                "kubernetesVersion": self.kubernetes_version,
            }
        )
