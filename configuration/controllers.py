"""The ingress controllers this stack can install: one registry entry each, free of Pulumi.

Adding a controller is one entry here, one values function in components/ingress.py and its
tests. What a controller cannot do is a `Feature` in its `unsupported` map, with the reason the
user reads; validation asks `supports()`, never the controller's name.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

ControllerName = Literal["ingress-nginx", "traefik"]

# The IngressClass the program owns with either controller, and the controller value both serve.
INGRESS_CLASS_NAME = "nginx"
NGINX_CONTROLLER_CLASS = "k8s.io/ingress-nginx"
# Traefik's load balancer Service while it is tested beside ingress-nginx (ingress.migration
# side-by-side): the chart names an additional Service `<release>-<key>`.
SIDE_BY_SIDE_SERVICE = "side-by-side"


class Feature(enum.Enum):
    """Settings of the stack that a controller may not honour."""

    BALANCED_AFFINITY = "affinity.mode balanced"
    CHANGE_ON_FAILURE = "affinity.changeOnFailure"
    PROXY_PROTOCOL = "ingress.proxyProtocol"
    METRICS_OFF = "ingress.metrics false"
    COOKIE_NOT_SECURE_OVER_HTTPS = "affinity.secure false with tls.enabled"


@dataclass(frozen=True)
class Chart:
    name: str
    repository: str
    version: str  # the pinned default; `ingress.chartVersion` may name another exact version


@dataclass(frozen=True)
class Controller:
    name: ControllerName
    description: str  # how the config's error messages and docs name it
    chart: Chart
    namespace: str
    release_name: str  # fixed: without it Helm adds a random suffix to every rendered name
    service_suffix: str  # the controller Service the chart publishes is `<release><suffix>`
    warning: str | None = None  # said on every run that installs it
    unsupported: Mapping[Feature, str] = field(default_factory=dict)  # feature -> why not

    def supports(self, feature: Feature) -> bool:
        return feature not in self.unsupported

    def service_name(self, release_name: str | None = None) -> str:
        return f"{release_name or self.release_name}{self.service_suffix}"


_NGINX_CHART = Chart(
    name="ingress-nginx",
    repository="https://kubernetes.github.io/ingress-nginx",
    version="4.15.1",  # the final release: ingress-nginx is retired upstream since March 2026
)
INGRESS_NGINX_APP_VERSION = "1.15.1"

CONTROLLERS: dict[ControllerName, Controller] = {
    "ingress-nginx": Controller(
        name="ingress-nginx",
        description="ingress-nginx (retired upstream)",
        chart=_NGINX_CHART,
        namespace="ingress-nginx",
        release_name="ingress-nginx",
        service_suffix="-controller",
        warning=(
            "ingress-nginx is retired upstream since March 2026: chart "
            f"{_NGINX_CHART.version} (controller {INGRESS_NGINX_APP_VERSION}) is its final "
            "release and gets no more security fixes. See docs/controllers.md, 'ingress-nginx "
            "retirement' (sticky-sessions:ingress.controller traefik is the maintained way out)."
        ),
        unsupported={
            # internal/ingress/annotations/sessionaffinity: the Secure field is
            # `json:"secure,omitempty"`, so "false" never reaches the Lua balancer, and
            # balancer/sticky.lua sets Secure on every request that came over HTTPS.
            Feature.COOKIE_NOT_SECURE_OVER_HTTPS: "ingress-nginx drops "
            'session-cookie-secure "false" and marks the cookie Secure on every HTTPS request',
        },
    ),
    "traefik": Controller(
        name="traefik",
        description="traefik (maintained, same Ingress)",
        # Traefik v3.7.11, serving the nginx class through its Kubernetes Ingress NGINX provider.
        chart=Chart(
            name="traefik", repository="https://traefik.github.io/charts", version="41.3.0"
        ),
        namespace="traefik",
        release_name="traefik",
        service_suffix="",
        unsupported={
            # Both measured behind the real Traefik (tests/test_real_traefik.py).
            Feature.BALANCED_AFFINITY: "Traefik always keeps a client on its pod (persistent): "
            "a scale-up or a rollout's surge pod takes no existing session",
            Feature.CHANGE_ON_FAILURE: "Traefik ignores it: a session stays on its pod, and "
            "fails there, until the pod leaves the endpoints",
            Feature.METRICS_OFF: "the Traefik chart's schema has no value that turns its "
            "Prometheus metrics off (they stay on an internal port the load balancer does not "
            "expose)",
        },
    ),
}
DEFAULT_CONTROLLER: ControllerName = "ingress-nginx"

# The Literal the config model validates against is the registry's own list of names.
assert set(get_args(ControllerName)) == set(CONTROLLERS), "ControllerName and CONTROLLERS differ"
