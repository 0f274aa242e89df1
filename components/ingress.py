"""The ingress-nginx controller as a Helm release, and the load balancer address it gets."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import PROXY_PROTOCOL_ANNOTATION, IngressConfig

RELEASE_NAME = "ingress-nginx"
CHART = "ingress-nginx"
CHART_REPOSITORY = "https://kubernetes.github.io/ingress-nginx"
INGRESS_CLASS_NAME = "nginx"
LOAD_BALANCER_FLAVOR_ANNOTATION = "loadbalancer.ovhcloud.com/flavor"
# Creating the OVHcloud load balancer takes minutes; Helm waits for its address.
RELEASE_TIMEOUT_SECONDS = 900
RETIREMENT_WARNING = (
    "ingress-nginx is retired upstream since March 2026: chart 4.15.1 (controller 1.15.1) is its "
    "final release and gets no more security fixes. See the README, 'ingress-nginx retirement'."
)


def controller_values(ingress: IngressConfig) -> dict[str, Any]:
    """Helm values for the ingress-nginx chart; every key exists in the chart's values.yaml
    (Helm ignores an unknown key without a word, so tests check them against it)."""
    annotations = dict(ingress.service_annotations)
    if ingress.load_balancer_flavor is not None:
        annotations[LOAD_BALANCER_FLAVOR_ANNOTATION] = ingress.load_balancer_flavor
    if ingress.proxy_protocol:
        annotations[PROXY_PROTOCOL_ANNOTATION] = "true"
    controller_labels = {
        "app.kubernetes.io/name": CHART,
        "app.kubernetes.io/instance": RELEASE_NAME,
        "app.kubernetes.io/component": "controller",
    }
    return {
        "controller": {
            "replicaCount": ingress.replicas,
            # The chart adds the PodDisruptionBudget once there are 2 replicas or more.
            "minAvailable": 1,
            "ingressClass": INGRESS_CLASS_NAME,
            "ingressClassResource": {"name": INGRESS_CLASS_NAME, "enabled": True, "default": False},
            # Snippet annotations let any Ingress author inject raw nginx configuration.
            "allowSnippetAnnotations": False,
            "enableAnnotationValidations": True,
            # The webhook rejects an Ingress the controller could not load, before it breaks routes.
            "admissionWebhooks": {"enabled": True},
            "resources": ingress.resources.kubernetes_spec(),
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": controller_labels},
                }
            ],
            "metrics": {"enabled": ingress.metrics},
            # The PROXY header and the load balancer's PROXY pool only work together.
            "config": {"use-proxy-protocol": "true"} if ingress.proxy_protocol else {},
            "service": {
                "type": "LoadBalancer",
                "externalTrafficPolicy": ingress.external_traffic_policy,
                "annotations": annotations,
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

    release: k8s.helm.v3.Release
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
            timeout=RELEASE_TIMEOUT_SECONDS,
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
        self.outputs = {
            "ingressClassName": self.ingress_class_name,
            "loadBalancerAddress": self.load_balancer_address,
        }
        self.register_outputs(self.outputs)


class ExistingIngressController(pulumi.ComponentResource):
    """The ingress-nginx another stack of this project installed (ingress.enabled false): its
    controller Service is read from the cluster, nothing is created."""

    release: k8s.helm.v3.Release | None = None  # not this stack's: nothing to wait for
    ingress_class_name: pulumi.Output[str]
    load_balancer_address: pulumi.Output[str]

    def __init__(
        self, name: str, args: IngressConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sticky-sessions:index:ExistingIngressController", name, None, opts)
        service = k8s.core.v1.Service.get(
            f"{name}-controller-service",
            f"{args.namespace}/{RELEASE_NAME}-controller",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ingress_class_name = pulumi.Output.from_input(INGRESS_CLASS_NAME)
        self.load_balancer_address = service.status.apply(load_balancer_address)
        self.outputs: dict[str, pulumi.Output[str]] = {}  # the part is off: no outputs
        self.register_outputs({})


def build_controller(
    name: str, ingress: IngressConfig, opts: pulumi.ResourceOptions
) -> IngressController | ExistingIngressController:
    """This stack's controller, or the one another stack installed when ingress.enabled is off."""
    if ingress.enabled:
        return IngressController(name, ingress, opts)
    return ExistingIngressController(name, ingress, opts)
