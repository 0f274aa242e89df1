"""sticky-sessions: an OVHcloud MKS cluster, ingress-nginx and a cookie-sticky what-is-my-pod.

The stack outputs are the contract other stacks read (README.md, "Outputs"): each is exported
once, here, and a part that is switched off exports nothing.
"""

from functools import partial

import pulumi

from components.app import StickyApp, StickyAppArgs
from components.cert_manager import CertManager
from components.cluster import ExistingCluster, build_cluster
from components.dns import HostRecord, record_line
from components.ingress import build_controller
from configuration.controllers import INGRESS_CLASS_NAME
from configuration.ingress import trusted_proxy_networks
from configuration.running import load_stack_config

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
if config.cluster.mode == "create" and config.cluster.api_allowed_cidrs is not None:
    pulumi.export("apiAllowedCidrs", list(config.cluster.api_allowed_cidrs))

on_cluster = pulumi.ResourceOptions(providers=[cluster.provider])
if config.ingress.enabled or config.app.enabled:
    trusted = trusted_proxy_networks(config.ingress, config.network)
    controller = build_controller("ingress", config.ingress, on_cluster, trusted)
    pulumi.export("servedBy", controller.served_by)
if config.ingress.enabled:
    pulumi.export("ingressClassName", controller.ingress_class_name)
    pulumi.export("loadBalancerAddress", controller.load_balancer_address)
    pulumi.export("migration", config.ingress.migration)
    if controller.test_address is not None:
        pulumi.export("migrationTestAddress", controller.test_address)
    if config.tls.enabled:  # cert-manager is the platform's, like the controller
        cert_manager = CertManager("cert-manager", config.tls, INGRESS_CLASS_NAME, opts=on_cluster)

if config.app.enabled:
    app = StickyApp(
        "app",
        StickyAppArgs(
            app=config.app,
            affinity=config.affinity,
            ingress_class_name=controller.ingress_class_name,
            load_balancer_address=controller.load_balancer_address,
            # The admission webhook must answer; with HTTPS, cert-manager and its issuer must
            # exist, so that a destroy removes the Ingress (and its Challenge) before them.
            ingress_waits_for=[
                *controller.ready,
                *(cert_manager.ready if config.ingress.enabled and config.tls.enabled else []),
            ],
            tls=config.tls,
        ),
        opts=on_cluster,
    )
    pulumi.export("url", app.url)
    pulumi.export("appNamespace", app.namespace)
    pulumi.export("cookieName", app.cookie_name)
    host = config.app.host
    if host is not None:
        pulumi.export("host", host)
        # The record that must exist: the stack writes it in dns.zone, else it is made by hand.
        pulumi.export(
            "dnsRecord",
            controller.load_balancer_address.apply(partial(record_line, host, config.dns.ttl)),
        )
        if config.dns.zone is not None:
            HostRecord(
                "dns", host, config.dns.zone, config.dns.ttl, controller.load_balancer_address
            )
