"""A second sticky app on the cluster and ingress class of a sticky-sessions stack."""

import pulumi
from consumer_config import load_consumer_config

from components.app import StickyApp, StickyAppArgs
from components.cluster import kubernetes_provider

config = load_consumer_config()

platform = pulumi.StackReference("platform", config.platform)
provider = kubernetes_provider(
    "platform-cluster",
    platform.require_output("kubeconfig"),
    platform.require_output("clusterId"),
    pulumi.ResourceOptions(),
)
app = StickyApp(
    config.app.name,
    StickyAppArgs(
        app=config.app,
        affinity=config.affinity,
        ingress_class_name=platform.require_output("ingressClassName"),
        load_balancer_address=platform.require_output("loadBalancerAddress"),
    ),
    opts=pulumi.ResourceOptions(providers=[provider]),
)

pulumi.export("url", app.url)
pulumi.export("appNamespace", app.namespace)
pulumi.export("cookieName", app.cookie_name)
