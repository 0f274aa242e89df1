"""The ingress controller as a Helm release, and the load balancer address it gets.

ingress-nginx (the tutorial's, retired upstream) or Traefik with its Kubernetes Ingress NGINX
provider: both serve Ingresses of class `nginx` and read the same cookie-affinity annotations,
so the app's Ingress is the same with either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.networking.v1 import IngressClassSpecArgsDict

from components.kubernetes_pieces import (
    NO_LOSS_ROLLOUT,
    as_helm_values,
    spread_over_zones_and_nodes,
)
from configuration.controllers import (
    CONTROLLERS,
    INGRESS_CLASS_NAME,
    NGINX_CONTROLLER_CLASS,
    ControllerName,
)
from configuration.ingress import (
    KEEP_FLOATING_IP_ANNOTATION,
    LOAD_BALANCER_FLAVOR_ANNOTATION,
    LOAD_BALANCER_FLAVOR_ID_ANNOTATION,
    PROXY_PROTOCOL_ANNOTATION,
    IngressConfig,
)

# Creating the OVHcloud load balancer takes minutes, and Helm waits (`--wait`) until the
# controller's Service has its address and its pods are ready; past this, the release fails.
RELEASE_TIMEOUT_SECONDS = 900


def _service_annotations(ingress: IngressConfig) -> dict[str, str]:
    annotations = dict(ingress.service_annotations)
    if ingress.keep_floating_ip:
        annotations[KEEP_FLOATING_IP_ANNOTATION] = "true"
    if ingress.load_balancer_flavor is not None:
        annotations[LOAD_BALANCER_FLAVOR_ANNOTATION] = ingress.load_balancer_flavor
    if ingress.load_balancer_flavor_id is not None:
        annotations[LOAD_BALANCER_FLAVOR_ID_ANNOTATION] = ingress.load_balancer_flavor_id
    if ingress.proxy_protocol:
        annotations[PROXY_PROTOCOL_ANNOTATION] = "true"
    return annotations


def nginx_values(ingress: IngressConfig, trusted: Sequence[str] = ()) -> dict[str, Any]:
    """Helm values for the ingress-nginx chart; every key exists in the chart's values.yaml
    (Helm ignores an unknown key without a word, so tests check them against it). `trusted`:
    the networks whose PROXY header sets the client address (else the chart trusts any)."""
    config = {"use-proxy-protocol": "true"} if ingress.proxy_protocol else {}
    if ingress.proxy_protocol and trusted:
        config["proxy-real-ip-cidr"] = ",".join(trusted)
    service: dict[str, Any] = {
        "type": "LoadBalancer",
        "externalTrafficPolicy": ingress.external_traffic_policy,
        "annotations": _service_annotations(ingress),
    }
    if ingress.load_balancer_ip is not None:
        service["loadBalancerIP"] = ingress.load_balancer_ip
    return {
        "controller": {
            "replicaCount": ingress.replicas,
            # The chart adds the PodDisruptionBudget once there are 2 replicas or more.
            "minAvailable": 1,
            "ingressClass": INGRESS_CLASS_NAME,
            # The IngressClass is the program's (see IngressController), not the chart's.
            "ingressClassResource": {
                "name": INGRESS_CLASS_NAME,
                "enabled": False,
                "default": False,
                "controllerValue": NGINX_CONTROLLER_CLASS,
            },
            # Snippet annotations let any Ingress author inject raw nginx configuration.
            "allowSnippetAnnotations": False,
            "enableAnnotationValidations": True,
            # The webhook rejects an Ingress the controller could not load, before it breaks routes.
            # Its certificate Jobs get requests and a limit, which the chart leaves out.
            "admissionWebhooks": {
                "enabled": True,
                "createSecretJob": {"resources": ingress.job_resources.kubernetes_spec()},
                "patchWebhookJob": {"resources": ingress.job_resources.kubernetes_spec()},
            },
            "resources": ingress.resources.kubernetes_spec(),
            "updateStrategy": as_helm_values(NO_LOSS_ROLLOUT),
            "topologySpreadConstraints": as_helm_values(
                spread_over_zones_and_nodes(
                    {
                        "app.kubernetes.io/name": "ingress-nginx",
                        "app.kubernetes.io/instance": CONTROLLERS["ingress-nginx"].release_name,
                        "app.kubernetes.io/component": "controller",
                    }
                )
            ),
            "metrics": {"enabled": ingress.metrics},
            # The PROXY header and the load balancer's PROXY pool only work together.
            "config": config,
            "service": service,
        }
    }


def traefik_values(ingress: IngressConfig, trusted: Sequence[str] = ()) -> dict[str, Any]:
    """Helm values for the Traefik chart; they satisfy the chart's values.schema.json. With
    PROXY protocol, both entry points read the header from the `trusted` networks only."""
    spec: dict[str, Any] = {"externalTrafficPolicy": ingress.external_traffic_policy}
    if ingress.load_balancer_ip is not None:
        spec["loadBalancerIP"] = ingress.load_balancer_ip
    ports = (
        {entry: {"proxyProtocol": {"trustedIPs": list(trusted)}} for entry in ("web", "websecure")}
        if ingress.proxy_protocol
        else {}
    )
    return {
        **({"ports": ports} if ports else {}),
        "deployment": {"replicas": ingress.replicas},
        # Like ingress-nginx's chart: a budget only when one replica can go and one stay.
        "podDisruptionBudget": {"enabled": ingress.replicas >= 2, "minAvailable": 1},
        "resources": ingress.resources.kubernetes_spec(),
        "updateStrategy": as_helm_values(NO_LOSS_ROLLOUT),
        "topologySpreadConstraints": as_helm_values(
            spread_over_zones_and_nodes({"app.kubernetes.io/name": "traefik"})
        ),
        # The chart's own class would be the cluster's default; the `nginx` class is ours.
        "ingressClass": {"enabled": False},
        "providers": {
            # Serves class nginx Ingresses, reading their nginx.ingress.kubernetes.io/ annotations.
            "kubernetesIngressNGINX": {
                "enabled": True,
                "ingressClass": INGRESS_CLASS_NAME,
                "controllerClass": NGINX_CONTROLLER_CLASS,
                # Without it the Ingress status never gets the address, and `pulumi up` waits on
                # the Ingress until it times out.
                "publishService": {"enabled": True},
            },
            # The plain Ingress provider would build a second set of routers for the same Ingress.
            "kubernetesIngress": {"enabled": False},
        },
        # On the internal `metrics` entry point, which the load balancer Service does not expose.
        "metrics": {"prometheus": {"entryPoint": "metrics"}},
        "service": {"annotations": _service_annotations(ingress), "spec": spec},
    }


# How each controller of the registry is configured: adding a controller adds one entry here.
VALUES: dict[ControllerName, Callable[[IngressConfig, Sequence[str]], dict[str, Any]]] = {
    "ingress-nginx": nginx_values,
    "traefik": traefik_values,
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


def ingress_class_spec() -> IngressClassSpecArgsDict:
    return {"controller": NGINX_CONTROLLER_CLASS}


class IngressController(pulumi.ComponentResource):
    """The controller's release in its own namespace; exposes the class name and LB address."""

    release: k8s.helm.v3.Release
    ingress_class_name: pulumi.Output[str]
    load_balancer_address: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: IngressConfig,
        opts: pulumi.ResourceOptions | None = None,
        trusted: Sequence[str] = (),
    ) -> None:
        super().__init__("sticky-sessions:index:IngressController", name, None, opts)
        controller = CONTROLLERS[args.controller]
        if controller.warning:
            pulumi.log.warn(controller.warning, resource=self)
        child = pulumi.ResourceOptions(parent=self)
        # Fixed names: pulumi-kubernetes refuses to create an object whose name exists, so a
        # replacement deletes the old object first.
        fixed_name = pulumi.ResourceOptions(parent=self, delete_before_replace=True)

        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": args.namespace}, opts=fixed_name
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=controller.release_name,
            chart=controller.chart.name,
            version=args.chart_version,
            repository_opts={"repo": controller.chart.repository},
            namespace=namespace.metadata["name"],
            values=VALUES[args.controller](args, trusted),
            cleanup_on_fail=True,
            # Helm waits (`--wait`) for the controller's pods and for the OVHcloud load balancer
            # to give its Service an address, which takes minutes; past this the release fails.
            # Never skipAwait: `pulumi destroy` must wait for the load balancer to be released.
            timeout=RELEASE_TIMEOUT_SECONDS,
            # A change of controller replaces the release: the old one goes first, so two
            # controllers never fight over the Ingress status.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        # Ours, not a chart's: both controllers serve it, so it outlives a change of controller
        # and the app's Ingress keeps its class.
        ingress_class = k8s.networking.v1.IngressClass(
            f"{name}-ingress-class",
            metadata={"name": INGRESS_CLASS_NAME},
            spec=ingress_class_spec(),
            opts=fixed_name,
        )
        # What the app's Ingress must wait for before it is created.
        self.ready: list[pulumi.Resource] = [self.release, ingress_class]
        status = self.release.status
        service = k8s.core.v1.Service.get(
            f"{name}-controller-service",
            pulumi.Output.concat(status.namespace, "/", status.name.apply(controller.service_name)),
            opts=child,
        )
        self.ingress_class_name = pulumi.Output.from_input(INGRESS_CLASS_NAME)
        self.load_balancer_address = service.status.apply(load_balancer_address)
        self.register_outputs(
            {
                "ingress_class_name": self.ingress_class_name,
                "load_balancer_address": self.load_balancer_address,
            }
        )


class ExistingIngressController(pulumi.ComponentResource):
    """The controller another stack of this project installed (ingress.enabled false): its
    Service is read from the cluster, nothing is created."""

    ingress_class_name: pulumi.Output[str]
    load_balancer_address: pulumi.Output[str]

    def __init__(
        self, name: str, args: IngressConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sticky-sessions:index:ExistingIngressController", name, None, opts)
        controller = CONTROLLERS[args.controller]
        service = k8s.core.v1.Service.get(
            f"{name}-controller-service",
            f"{args.namespace}/{controller.service_name()}",
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.ready: list[pulumi.Resource] = []  # not this stack's: nothing to wait for
        self.ingress_class_name = pulumi.Output.from_input(INGRESS_CLASS_NAME)
        self.load_balancer_address = service.status.apply(load_balancer_address)
        self.register_outputs({})  # the part is off here: the stack exports nothing of it


def build_controller(
    name: str, ingress: IngressConfig, opts: pulumi.ResourceOptions, trusted: Sequence[str] = ()
) -> IngressController | ExistingIngressController:
    """This stack's controller, or the one another stack installed when ingress.enabled is off;
    `trusted`: the networks a PROXY header is believed from."""
    if ingress.enabled:
        return IngressController(name, ingress, opts, trusted)
    return ExistingIngressController(name, ingress, opts)
