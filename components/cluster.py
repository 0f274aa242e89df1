"""The Kubernetes cluster the stack deploys onto, in one of three modes, and its provider.

- create:   an OVHcloud MKS cluster and node pool, in this stack (OvhCluster);
- existing: a cluster made elsewhere, from the secret `cluster.kubeconfig` (ExistingCluster);
- stack:    the cluster another stack owns, from its outputs (StackCluster).

Each exposes `provider` (everything Kubernetes deploys through it), `kubeconfig` (secret),
`cluster_id` and `cluster_name`; OvhCluster and StackCluster also know `region` and
`kubernetes_version`. __main__.py exports them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_ovh import cloudproject

from components.network import OvhNetwork
from configuration.cluster import ClusterConfig, NetworkConfig, NodePoolConfig
from configuration.kubeconfig import kubeconfig_cluster


def kubernetes_provider(
    name: str,
    kubeconfig: pulumi.Input[str],
    cluster_identifier: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> k8s.Provider:
    return k8s.Provider(
        name,
        kubeconfig=kubeconfig,
        # Only another cluster replaces the provider (and every resource under it); a rotated
        # or reset kubeconfig updates it.
        cluster_identifier=cluster_identifier,
        # No delete_unreachable: with it, a `pulumi refresh` while the API is briefly unreachable
        # drops every object from the state (pulumi-kubernetes provider/pkg/provider/provider.go
        # Read, "Deleting the unreachable resource from Pulumi state"), and a value set here
        # overrides PULUMI_K8S_DELETE_UNREACHABLE (provider.go, deleteUnreachable()): left unset,
        # the variable still finishes the destroy of a cluster that is already gone.
        opts=opts,
    )


# terraform-provider-ovh's defaults (15 min to create a cluster) are shorter than what an MKS
# creation takes on a busy region; a timeout would leave a cluster Pulumi does not record.
KUBE_TIMEOUTS = pulumi.CustomTimeouts(create="60m", update="60m", delete="30m")
NODE_POOL_TIMEOUTS = pulumi.CustomTimeouts(create="60m", update="60m", delete="60m")
# What forces a new pool (ForceNew in terraform-provider-ovh's node pool schema). The pool's
# name carries their digest, so that the new pool can exist beside the old one.
POOL_REPLACED_BY = ("flavor", "antiAffinity", "monthlyBilled", "zones")
# The name alone does not order the replacement: pulumi-ovh autonames `name`, and
# pulumi-terraform-bridge answers delete-before-replace whenever the program sets an autonamed
# field itself (pkg/tfbridge/schema.go, nameRequiresDeleteBeforeReplace), which would leave the
# cluster without nodes. The engine takes an explicit option over the provider's answer
# (pkg/resource/deploy/step_generator.go, `if goal.DeleteBeforeReplace != nil`).
CREATE_THEN_DELETE = False
# terraform-provider-ovh's `nodes_subnet_id` is Optional+Computed, not ForceNew, and its Update
# has no branch for it (ovh/resource_cloud_project_kube.go, schema and
# resourceCloudProjectKubeUpdate): a new subnet would be a silent no-op on the cluster.
KUBE_REPLACED_ON = ["nodesSubnetId"]


def node_pool_name(pool: NodePoolConfig, zone: str | None = None) -> str:
    """`<name>[-<zone suffix>]-<digest of what forces a new pool>`."""
    facts = "|".join((pool.flavor, str(pool.anti_affinity), str(pool.monthly_billed), zone or ""))
    digest = hashlib.sha256(facts.encode()).hexdigest()[:6]
    suffix = f"-{zone.rsplit('-', 1)[-1]}" if zone else ""
    return f"{pool.name}{suffix}-{digest}"


@dataclass(frozen=True)
class ClusterArgs:
    cluster: ClusterConfig
    network: NetworkConfig
    node_pool: NodePoolConfig
    # The cluster section holds a value set with --secret. The CLI says which key, not which
    # field, so every value of the section goes in secret (Pulumi keeps the outputs of a
    # secret input secret).
    secret: bool = False


def cluster_outputs(cluster: OvhCluster | StackCluster) -> dict[str, pulumi.Output[str]]:
    """What a cluster component that knows its region and version registers."""
    return {
        "kubeconfig": cluster.kubeconfig,
        "cluster_id": cluster.cluster_id,
        "cluster_name": cluster.cluster_name,
        "region": cluster.region,
        "kubernetes_version": cluster.kubernetes_version,
    }


class OvhCluster(pulumi.ComponentResource):
    """An MKS cluster, its private network if any, and a node pool per zone (one pool in a
    single-zone region); `provider` deploys onto it once the nodes exist."""

    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    cluster_id: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    region: pulumi.Output[str]
    kubernetes_version: pulumi.Output[str]

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sticky-sessions:index:OvhCluster", name, None, opts)
        cluster, pool = args.cluster, args.node_pool
        protected = pulumi.ResourceOptions(parent=self, protect=cluster.protect)
        # Pools are never protected: `protect` blocks the replacement a flavor or zone change
        # needs. With autoscale, the autoscaler owns desiredNodes after creation; the bridge
        # still sends the stored value, which `options.refresh: always` (Pulumi.yaml) keeps
        # current before every update.
        pool_options = pulumi.ResourceOptions(
            parent=self,
            delete_before_replace=CREATE_THEN_DELETE,
            custom_timeouts=NODE_POOL_TIMEOUTS,
            ignore_changes=["desiredNodes"] if pool.autoscale else None,
        )

        def kept(value: str | None) -> pulumi.Input[str] | None:
            return pulumi.Output.secret(value) if args.secret and value is not None else value

        network: OvhNetwork | None = None
        if args.network.mode != "none":
            network = OvhNetwork(
                f"{name}-network",
                args.network,
                service_name=kept(cluster.service_name),  # type: ignore[arg-type]
                region=cluster.region,
                unique_name=f"{pulumi.get_project()}-{pulumi.get_stack()}-network",
                opts=pulumi.ResourceOptions(parent=self, protect=cluster.protect),
            )
        self.kube = cloudproject.Kube(
            f"{name}-kube",
            service_name=kept(cluster.service_name),
            name=kept(cluster.name),
            region=kept(cluster.region),
            plan=cluster.plan,
            version=kept(cluster.version),
            update_policy=kept(cluster.update_policy),
            private_network_id=network.private_network_id if network else None,
            nodes_subnet_id=network.subnet_id if network else None,
            opts=pulumi.ResourceOptions.merge(
                protected,
                pulumi.ResourceOptions(
                    custom_timeouts=KUBE_TIMEOUTS,
                    depends_on=list(network.ready) if network else None,
                    replace_on_changes=KUBE_REPLACED_ON,
                ),
            ),
        )
        # Who may reach the API server; without it, the whole internet. The list replaces
        # OVHcloud's, and removing the resource opens the API again.
        api_access: list[pulumi.Resource] = []
        if cluster.api_allowed_cidrs is not None:
            api_access.append(
                cloudproject.KubeIpRestrictions(
                    f"{name}-api-access",
                    service_name=kept(cluster.service_name),
                    kube_id=self.kube.id,
                    ips=list(cluster.api_allowed_cidrs),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        # One pool per zone (OVHcloud takes one zone per pool), each of the configured size.
        zones: list[str | None] = [*pool.zones] or [None]
        self.node_pools = [
            cloudproject.KubeNodePool(
                f"{name}-node-pool" + (f"-{zone}" if zone else ""),
                service_name=kept(cluster.service_name),
                kube_id=self.kube.id,
                name=node_pool_name(pool, zone),
                flavor_name=pool.flavor,
                desired_nodes=pool.desired_nodes,
                min_nodes=pool.lowest,
                max_nodes=pool.highest,
                autoscale=pool.autoscale,
                anti_affinity=pool.anti_affinity,
                monthly_billed=pool.monthly_billed,
                availability_zones=[zone] if zone else None,
                opts=pool_options,
            )
            for zone in zones
        ]
        # The Kube resource keeps the kubeconfig it got at creation; after a reset or a
        # certificate rotation that one is stale. The data source reads it afresh on every run.
        fresh = cloudproject.get_kube_output(
            service_name=kept(cluster.service_name), kube_id=self.kube.id
        )
        self.kubeconfig = pulumi.Output.secret(fresh.kubeconfig)
        self.provider = kubernetes_provider(
            f"{name}-kubernetes",
            self.kubeconfig,
            self.kube.id,
            # Pods need nodes: everything deployed through this provider waits for the pools,
            # and for the API restrictions, so that a list without this machine fails now.
            pulumi.ResourceOptions(parent=self, depends_on=[*self.node_pools, *api_access]),
        )
        self.cluster_id = self.kube.id
        self.cluster_name = self.kube.name
        self.region = self.kube.region
        self.kubernetes_version = self.kube.version
        self.register_outputs(cluster_outputs(self))


class ExistingCluster(pulumi.ComponentResource):
    """A cluster made elsewhere (another tool, the console, a local cluster), by its kubeconfig.

    Its identity is the API server URL of the kubeconfig's current context: new credentials for
    the same cluster update the provider, another cluster replaces it.
    """

    def __init__(
        self, name: str, kubeconfig: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sticky-sessions:index:ExistingCluster", name, None, opts)
        cluster_name, server = kubeconfig_cluster(kubeconfig)
        self.kubeconfig = pulumi.Output.secret(kubeconfig)
        self.provider = kubernetes_provider(
            f"{name}-kubernetes", self.kubeconfig, server, pulumi.ResourceOptions(parent=self)
        )
        self.cluster_id = pulumi.Output.from_input(server)
        self.cluster_name = pulumi.Output.from_input(cluster_name)
        self.register_outputs(
            {
                "kubeconfig": self.kubeconfig,
                "cluster_id": self.cluster_id,
                "cluster_name": self.cluster_name,
            }
        )


class StackCluster(pulumi.ComponentResource):
    """The cluster another stack owns (typically this project with app.enabled false), read
    through a StackReference: its `kubeconfig` output, and the other cluster outputs it has."""

    def __init__(
        self, name: str, stack_name: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sticky-sessions:index:StackCluster", name, None, opts)
        self.reference = pulumi.StackReference(
            f"{name}-stack", stack_name, opts=pulumi.ResourceOptions(parent=self)
        )

        def required(kubeconfig: str | None) -> str:
            if not kubeconfig:
                raise pulumi.RunError(
                    f"sticky-sessions:cluster.stack: no readable `kubeconfig` output from stack "
                    f"{stack_name}: either it exports none (point cluster.stack at a stack of "
                    "this project in cluster.mode create), or its secrets cannot be decrypted "
                    "here (with `pulumi login --local`, both stacks need the same "
                    "PULUMI_CONFIG_PASSPHRASE)"
                )
            return kubeconfig

        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            self.reference.get_output("kubeconfig").apply(required)
        )
        # The owning stack's outputs of the same names (this project's cluster part).
        self.cluster_id = self.reference.get_output("clusterId")
        self.cluster_name = self.reference.get_output("clusterName")
        self.region = self.reference.get_output("region")
        self.kubernetes_version = self.reference.get_output("kubernetesVersion")
        self.provider = kubernetes_provider(
            f"{name}-kubernetes",
            self.kubeconfig,
            self.cluster_id.apply(lambda cluster_id: cluster_id or stack_name),
            pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(cluster_outputs(self))


def build_cluster(
    name: str,
    cluster: ClusterConfig,
    network: NetworkConfig,
    node_pool: NodePoolConfig,
    secret: bool = False,
) -> OvhCluster | ExistingCluster | StackCluster:
    """The cluster component of the configured mode."""
    if cluster.mode == "existing":
        assert cluster.kubeconfig is not None  # the config requires it in this mode
        return ExistingCluster(name, cluster.kubeconfig.get_secret_value())
    if cluster.mode == "stack":
        assert cluster.stack is not None
        return StackCluster(name, cluster.stack)
    return OvhCluster(
        name,
        ClusterArgs(cluster=cluster, network=network, node_pool=node_pool, secret=secret),
    )
