"""sticky-sessions: an OVHcloud MKS cluster, ingress-nginx and a cookie-sticky what-is-my-pod."""

import pulumi

from components.app import StickyApp, StickyAppArgs
from components.cluster import ClusterArgs, OvhCluster
from components.config import load_stack_config
from components.ingress import IngressController

config = load_stack_config()

cluster = OvhCluster("cluster", ClusterArgs(cluster=config.cluster, node_pool=config.node_pool))
on_cluster = pulumi.ResourceOptions(providers=[cluster.provider])
controller = IngressController("ingress", config.ingress, opts=on_cluster)
app = StickyApp(
    "app",
    StickyAppArgs(
        app=config.app,
        affinity=config.affinity,
        ingress_class_name=controller.ingress_class_name,
        load_balancer_address=controller.load_balancer_address,
        ingress_waits_for=[controller.release],
    ),
    opts=on_cluster,
)

pulumi.export("url", app.url)
pulumi.export("loadBalancerAddress", controller.load_balancer_address)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("clusterId", cluster.cluster_id)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("region", cluster.region)
pulumi.export("kubernetesVersion", cluster.kubernetes_version)
pulumi.export("ingressClassName", controller.ingress_class_name)
pulumi.export("appNamespace", app.namespace)
pulumi.export("cookieName", app.cookie_name)
