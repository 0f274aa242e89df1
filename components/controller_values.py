"""The Helm values of each controller's chart, by the role its release has in the stack.

Every key exists in the chart's values (ingress-nginx: values.yaml, Helm ignoring an unknown key
without a word; Traefik: values.schema.json): the tests check them against both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from components.kubernetes_pieces import (
    NO_LOSS_ROLLOUT,
    as_helm_values,
    spread_over_zones_and_nodes,
)
from configuration.controllers import (
    CONTROLLERS,
    INGRESS_CLASS_NAME,
    NGINX_CONTROLLER_CLASS,
    SIDE_BY_SIDE_SERVICE,
    ControllerName,
)
from configuration.ingress import (
    KEEP_FLOATING_IP_ANNOTATION,
    LOAD_BALANCER_FLAVOR_ANNOTATION,
    LOAD_BALANCER_FLAVOR_ID_ANNOTATION,
    PROXY_PROTOCOL_ANNOTATION,
    IngressConfig,
)

# What a controller's release does in the stack:
# - serves: the URL's address is its Service's; it writes the Ingress status; `keepFloatingIp`
#   and `loadBalancerIp` are its Service's.
# - tested: Traefik during side-by-side: its own load balancer Service (SIDE_BY_SIDE_SERVICE)
#   with a new address to test, and it never writes the Ingress status.
# - standby: ingress-nginx after the cut-over: its pods run (a rollback is one `pulumi up`), it
#   writes no status, and its load balancer Service is gone when its address moved to Traefik.
Role = Literal["serves", "tested", "standby"]


def _service_annotations(ingress: IngressConfig, holds_address: bool = True) -> dict[str, str]:
    """The load balancer Service's annotations; `holds_address`: the Service whose address is
    the URL's (kept by keepFloatingIp), not Traefik's side-by-side one."""
    annotations = dict(ingress.service_annotations)
    if ingress.keep_floating_ip and holds_address:
        annotations[KEEP_FLOATING_IP_ANNOTATION] = "true"
    if ingress.load_balancer_flavor is not None:
        annotations[LOAD_BALANCER_FLAVOR_ANNOTATION] = ingress.load_balancer_flavor
    if ingress.load_balancer_flavor_id is not None:
        annotations[LOAD_BALANCER_FLAVOR_ID_ANNOTATION] = ingress.load_balancer_flavor_id
    if ingress.proxy_protocol:
        annotations[PROXY_PROTOCOL_ANNOTATION] = "true"
    return annotations


def nginx_values(
    ingress: IngressConfig, trusted: Sequence[str] = (), role: Role = "serves"
) -> dict[str, Any]:
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
    if ingress.load_balancer_ip is not None:  # standby with it: the Service is gone (below)
        service["loadBalancerIP"] = ingress.load_balancer_ip
    standby: dict[str, Any] = {}
    if role == "standby":
        # Without a published Service, the controller would write the nodes' addresses into
        # the Ingress status (and fight Traefik over it): no status at all, and the chart
        # drops its permission to write it.
        standby = {"publishService": {"enabled": False}, "extraArgs": {"update-status": "false"}}
        # Deleted with keep-floatingip set (since side-by-side), so Traefik's new Service can
        # take the address; without an address to move, it still answers until DNS has moved.
        service["enabled"] = not ingress.moves_address
    return {
        "controller": {
            **standby,
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


def _traefik_service(ingress: IngressConfig, role: Role) -> dict[str, Any]:
    """The chart's `service` values. Tested side by side, the chart's own Service is off and an
    additional one gets a new address: the cloud controller keeps the floating IP a load
    balancer already has when loadBalancerIP changes (cloud-provider-openstack,
    pkg/openstack/loadbalancer.go, ensureFloatingIP: "first attempt" uses the VIP port's FIP),
    so the address can only move to a Service created at the cut-over."""
    spec: dict[str, Any] = {"externalTrafficPolicy": ingress.external_traffic_policy}
    if role == "tested":
        side_by_side = {
            "annotations": _service_annotations(ingress, holds_address=False),
            "spec": {"type": "LoadBalancer", **spec},
        }
        return {"enabled": False, "additionalServices": {SIDE_BY_SIDE_SERVICE: side_by_side}}
    if ingress.load_balancer_ip is not None:
        spec["loadBalancerIP"] = ingress.load_balancer_ip
    return {"annotations": _service_annotations(ingress), "spec": spec}


def traefik_values(
    ingress: IngressConfig, trusted: Sequence[str] = (), role: Role = "serves"
) -> dict[str, Any]:
    """Helm values for the Traefik chart; they satisfy the chart's values.schema.json. With
    PROXY protocol, both entry points read the header from the `trusted` networks only."""
    ports: dict[str, Any] = {}
    for entry in ("web", "websecure"):
        port: dict[str, Any] = {}
        if ingress.proxy_protocol:
            port["proxyProtocol"] = {"trustedIPs": list(trusted)}
        if role == "tested":
            port["expose"] = {"default": False, SIDE_BY_SIDE_SERVICE: True}
        if port:
            ports[entry] = port
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
                # the Ingress until it times out. Tested side by side, ingress-nginx writes it.
                "publishService": {"enabled": role == "serves"},
            },
            # The plain Ingress provider would build a second set of routers for the same Ingress.
            "kubernetesIngress": {"enabled": False},
        },
        # On the internal `metrics` entry point, which the load balancer Service does not expose.
        "metrics": {"prometheus": {"entryPoint": "metrics"}},
        "service": _traefik_service(ingress, role),
    }


# How each controller of the registry is configured: adding a controller adds one entry here.
VALUES: dict[ControllerName, Callable[[IngressConfig, Sequence[str], Role], dict[str, Any]]] = {
    "ingress-nginx": nginx_values,
    "traefik": traefik_values,
}
