"""sticky-sessions: an OVHcloud MKS cluster, ingress-nginx and a cookie-sticky what-is-my-pod."""

import pulumi

from components.app import StickyApp, StickyAppArgs
from components.cluster import build_cluster
from components.config import load_stack_config
from components.ingress import build_controller

config = load_stack_config()

cluster = build_cluster("cluster", config.cluster, config.node_pool)
on_cluster = pulumi.ResourceOptions(providers=[cluster.provider])
outputs = dict(cluster.outputs)
if config.ingress.enabled or config.app.enabled:
    controller = build_controller("ingress", config.ingress, on_cluster)
    outputs |= controller.outputs
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
    outputs |= app.outputs

for name, value in outputs.items():
    pulumi.export(name, value)
