"""sticky-sessions: an OVHcloud MKS cluster, ingress-nginx and a cookie-sticky what-is-my-pod.

The stack outputs are the contract other stacks read (README, "Outputs"): each is exported
once, here, and a part that is switched off exports nothing.
"""

import pulumi

from components.app import StickyApp, StickyAppArgs
from components.cluster import ExistingCluster, build_cluster
from components.ingress import build_controller
from components.stack_config import load_stack_config

config = load_stack_config()

cluster = build_cluster(
    "cluster",
    config.cluster,
    config.network,
    config.node_pool,
    secret="cluster" in config.secret_sections,
)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("clusterId", cluster.cluster_id)
pulumi.export("clusterName", cluster.cluster_name)
# Nothing tells the program an existing cluster's region or version without asking it.
if not isinstance(cluster, ExistingCluster):
    pulumi.export("region", cluster.region)
    pulumi.export("kubernetesVersion", cluster.kubernetes_version)

on_cluster = pulumi.ResourceOptions(providers=[cluster.provider])
if config.ingress.enabled or config.app.enabled:
    controller = build_controller("ingress", config.ingress, on_cluster)
if config.ingress.enabled:
    pulumi.export("ingressClassName", controller.ingress_class_name)
    pulumi.export("loadBalancerAddress", controller.load_balancer_address)

if config.app.enabled:
    app = StickyApp(
        "app",
        StickyAppArgs(
            app=config.app,
            affinity=config.affinity,
            ingress_class_name=controller.ingress_class_name,
            load_balancer_address=controller.load_balancer_address,
            ingress_waits_for=controller.ready,
        ),
        opts=on_cluster,
    )
    pulumi.export("url", app.url)
    pulumi.export("appNamespace", app.namespace)
    pulumi.export("cookieName", app.cookie_name)
