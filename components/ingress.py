"""The ingress-nginx controller as a Helm release, and the load balancer address it gets."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import IngressConfig

RELEASE_NAME = "ingress-nginx"
CHART = "ingress-nginx"
CHART_REPOSITORY = "https://kubernetes.github.io/ingress-nginx"
INGRESS_CLASS_NAME = "nginx"
RETIREMENT_WARNING = (
    "ingress-nginx is retired upstream since March 2026: chart 4.15.1 (controller 1.15.1) is its "
    "final release and gets no more security fixes. See the README, 'ingress-nginx retirement'."
)


def controller_values(ingress: IngressConfig) -> dict[str, Any]:
    """Helm values for the ingress-nginx chart; every key exists in the chart's values.yaml."""
    return {
        "controller": {
            "replicaCount": ingress.replicas,
            "ingressClass": INGRESS_CLASS_NAME,
            "ingressClassResource": {"name": INGRESS_CLASS_NAME, "default": False},
            # Snippet annotations let any Ingress author inject raw nginx configuration.
            "allowSnippetAnnotations": False,
            "admissionWebhooks": {"enabled": True},
            "service": {
                "type": "LoadBalancer",
                "externalTrafficPolicy": ingress.external_traffic_policy,
                "annotations": dict(ingress.service_annotations),
            },
        }
    }


def load_balancer_address(service_status: Any) -> str:
    """The first load balancer ingress of a Service status: its IP, else its hostname."""
    status = service_status or {}
    entries = (status.get("load_balancer") or status.get("loadBalancer") or {}).get("ingress")
    for entry in entries or []:
        address = entry.get("ip") or entry.get("hostname")
        if address:
            return address
    raise ValueError("the ingress controller Service has no load balancer address yet")


class IngressController(pulumi.ComponentResource):
    """The ingress-nginx release in its own namespace; exposes the class name and LB address."""

    ingress_class_name: pulumi.Output[str]
    load_balancer_address: pulumi.Output[str]

    def __init__(
        self, name: str, args: IngressConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sticky-sessions:index:IngressController", name, None, opts)
        pulumi.log.warn(RETIREMENT_WARNING, resource=self)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={"name": args.namespace},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            # A fixed name: without it Helm adds a random suffix to every object the chart renders.
            name=RELEASE_NAME,
            chart=CHART,
            version=args.chart_version,
            repository_opts={"repo": CHART_REPOSITORY},
            namespace=namespace.metadata["name"],
            values=controller_values(args),
            cleanup_on_fail=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        status = self.release.status
        service = k8s.core.v1.Service.get(
            f"{name}-controller-service",
            pulumi.Output.concat(status.namespace, "/", status.name, "-controller"),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ingress_class_name = pulumi.Output.from_input(INGRESS_CLASS_NAME)
        self.load_balancer_address = service.status.apply(load_balancer_address)
        self.register_outputs(
            {
                "ingressClassName": self.ingress_class_name,
                "loadBalancerAddress": self.load_balancer_address,
            }
        )
