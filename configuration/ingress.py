"""The `ingress` section: which controller, its chart, its load balancer Service (size, address,
PROXY protocol) and its pods. Its rules that need other sections (the networks a PROXY header may
come from) are in rules.py."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from configuration.base import (
    ANNOTATION_KEY,
    EXACT_VERSION,
    RFC1123_LABEL,
    SYSTEM_NAMESPACES,
    Section,
    docs,
)
from configuration.cluster import NetworkConfig
from configuration.controllers import (
    CONTROLLERS,
    DEFAULT_CONTROLLER,
    Controller,
    ControllerName,
    Feature,
)
from configuration.errors import model_problem
from configuration.resources import CONTROLLER_RESOURCES, JOB_RESOURCES, Resources, over_defaults


def _by_controller(fact: Callable[[Controller], str]) -> str:
    return ", ".join(f"`{fact(c)}` ({name})" for name, c in CONTROLLERS.items())


PROXY_PROTOCOL_ANNOTATION = "loadbalancer.openstack.org/proxy-protocol"
# OVHcloud's "Expose your applications using Public Cloud Load Balancer" guide: a flavor name on
# MKS Free only, a flavor UUID (`openstack loadbalancer flavor list`) on MKS Standard only.
LOAD_BALANCER_FLAVOR_ANNOTATION = "loadbalancer.ovhcloud.com/flavor"
LOAD_BALANCER_FLAVOR_ID_ANNOTATION = "loadbalancer.openstack.org/flavor-id"
# cloud-provider-openstack's CCM (OVHcloud's, for the Public Cloud Load Balancer): the floating
# IP outlives the Service, so that another Service can take it with loadBalancerIP.
KEEP_FLOATING_IP_ANNOTATION = "loadbalancer.openstack.org/keep-floatingip"
ANNOTATIONS_BYTES = 256 * 1024 - 1024  # Kubernetes' 256 KiB, less what the stack adds itself

# The way out of ingress-nginx, one `pulumi up` per phase (docs/controllers.md, "Leaving
# ingress-nginx without downtime"): `side-by-side` adds Traefik next to the serving
# ingress-nginx, `cut-over` makes Traefik serve, and `none` with controller traefik then removes
# ingress-nginx.
MigrationPhase = Literal["none", "side-by-side", "cut-over"]
MIGRATION_SOURCE: ControllerName = "ingress-nginx"
MIGRATION_TARGET: ControllerName = "traefik"


class IngressConfig(Section):
    enabled: bool = Field(
        default=True,
        description="true or false: false uses the controller another stack installed",
    )
    controller: ControllerName = Field(
        default=DEFAULT_CONTROLLER,
        description=" or ".join(c.description for c in CONTROLLERS.values()),
        json_schema_extra=docs(note="see [Moving to Traefik](controllers.md#moving-to-traefik)"),
    )
    migration: MigrationPhase = Field(
        default="none",
        description="none, side-by-side or cut-over",
        json_schema_extra=docs(
            note="with controller traefik: `side-by-side` adds Traefik beside the serving "
            "ingress-nginx, `cut-over` makes Traefik serve, then `none` removes ingress-nginx "
            "(see [the migration](controllers.md#leaving-ingress-nginx-without-downtime))"
        ),
    )
    # The next two default by controller: see configuration/controllers.py.
    chart_version: str = Field(
        pattern=EXACT_VERSION,
        description="an exact chart version such as 4.15.1 (no range, no 'latest')",
        json_schema_extra=docs(shown_default=_by_controller(lambda c: c.chart.version)),
    )
    namespace: str = Field(
        pattern=RFC1123_LABEL,
        description="an RFC 1123 label",
        json_schema_extra=docs(shown_default=_by_controller(lambda c: c.namespace)),
    )
    replicas: int = Field(default=1, ge=1, le=20, description="an integer from 1 to 20")
    external_traffic_policy: Literal["Cluster", "Local"] = Field(
        default="Cluster", description="Cluster or Local"
    )
    service_annotations: dict[
        Annotated[str, Field(pattern=ANNOTATION_KEY)], Annotated[str, Field(max_length=4096)]
    ] = Field(
        default_factory=dict,
        description="a map of Kubernetes annotation keys to string values",
        json_schema_extra=docs(note="more annotations for the load balancer Service"),
    )
    load_balancer_flavor: Literal["small", "medium", "large"] | None = Field(
        default=None,
        description="small, medium or large (the OVHcloud load balancer size)",
        json_schema_extra=docs(note="Free plan only: sets `loadbalancer.ovhcloud.com/flavor`"),
    )
    load_balancer_flavor_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="a load balancer flavor UUID (openstack loadbalancer flavor list)",
        json_schema_extra=docs(
            note="Standard plan only: sets `loadbalancer.openstack.org/flavor-id`"
        ),
    )
    proxy_protocol: bool = Field(
        default=False,
        description="true or false: the load balancer sends PROXY protocol to the controller",
        json_schema_extra=docs(note="the real client IP, trusted from proxyProtocolTrustedCidrs"),
    )
    proxy_protocol_trusted_cidrs: list[str] = Field(
        default_factory=list,
        description="IPv4 networks such as 10.0.0.0/16, not 0.0.0.0/0",
        json_schema_extra=docs(
            note="where the load balancer sends from; default network.cidr when the stack "
            "creates the network"
        ),
    )
    keep_floating_ip: bool = Field(
        default=False,
        description="true or false: the public IP outlives the controller's Service",
        json_schema_extra=docs(note=f"sets `{KEEP_FLOATING_IP_ANNOTATION}`"),
    )
    load_balancer_ip: str | None = Field(
        default=None,
        description="a public IPv4 address of this project (a floating IP)",
        json_schema_extra=docs(
            note="the address the serving controller's Service takes; at a cut-over, the one "
            "ingress-nginx's Service kept (needs keepFloatingIp)"
        ),
    )
    resources: Annotated[Resources, BeforeValidator(over_defaults(CONTROLLER_RESOURCES))] = Field(
        default=Resources.model_validate(CONTROLLER_RESOURCES),
        description="requests (cpu, memory) and limits (memory) of the controller container",
        json_schema_extra=docs(note="set fields replace the defaults one by one"),
    )
    job_resources: Annotated[Resources, BeforeValidator(over_defaults(JOB_RESOURCES))] = Field(
        default=Resources.model_validate(JOB_RESOURCES),
        description="requests (cpu, memory) and limits (memory) of the admission webhook Jobs",
        json_schema_extra=docs(note="ingress-nginx's certificate Jobs; Traefik runs none"),
    )
    metrics: bool = Field(
        default=True,
        description="true or false: expose Prometheus metrics",
        json_schema_extra=docs(note="always on with traefik"),
    )

    @model_validator(mode="before")
    @classmethod
    def _controller_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # An unknown name is the controller field's one error: the default controller's
        # values stand in, so that it causes no second one.
        name = data.get("controller", DEFAULT_CONTROLLER)
        known = {str(entry): controller for entry, controller in CONTROLLERS.items()}
        controller = known.get(name) if isinstance(name, str) else None
        controller = controller or CONTROLLERS[DEFAULT_CONTROLLER]
        return {"chartVersion": controller.chart.version, "namespace": controller.namespace, **data}

    @field_validator("namespace")
    @classmethod
    def _own_namespace(cls, namespace: str) -> str:
        if namespace == "default" or namespace in SYSTEM_NAMESPACES:
            raise ValueError("every cluster has it: the controller gets a namespace of its own")
        return namespace

    @model_validator(mode="after")
    def _a_version_of_its_chart(self) -> IngressConfig:
        pinned = CONTROLLERS[self.controller].chart
        if self.chart_version.lstrip("v").split(".")[0] != pinned.version.split(".")[0]:
            raise model_problem(
                f"not a version of the {pinned.name} chart, whose releases this stack "
                f"supports are {pinned.version.split('.')[0]}.x (pinned: {pinned.version}), "
                "got {got}",
                key="chartVersion",
                got=self.chart_version,
                fix=pinned.version,
            )
        return self

    @model_validator(mode="after")
    def _what_the_controller_supports(self) -> IngressConfig:
        controller = CONTROLLERS[self.controller]
        for key, feature, asked, fix in (
            ("proxyProtocol", Feature.PROXY_PROTOCOL, self.proxy_protocol, "false"),
            ("metrics", Feature.METRICS_OFF, not self.metrics, "true"),
        ):
            if asked and not controller.supports(feature):
                raise model_problem(
                    controller.unsupported[feature] + ", got {got}",
                    key=key,
                    got=f"controller {self.controller}",
                    fix=fix,
                )
        return self

    @model_validator(mode="after")
    def _a_migration_to_traefik(self) -> IngressConfig:
        if self.migration == "none":
            return self
        if self.controller != MIGRATION_TARGET:
            raise model_problem(
                f"a migration keeps {MIGRATION_SOURCE} and moves to {MIGRATION_TARGET}: it needs "
                f"controller {MIGRATION_TARGET}, got {{got}}",
                key="migration",
                got=f"migration {self.migration} with controller {self.controller}",
                fix=f"none (or set ingress.controller {MIGRATION_TARGET})",
            )
        if not self.enabled:
            raise model_problem(
                "the stack that installs the controllers runs the migration; this one uses "
                "the controller another stack installed (ingress.enabled false), got {got}",
                key="migration",
                got=self.migration,
                fix="none",
            )
        if self.load_balancer_ip is not None and not self.keep_floating_ip:
            raise model_problem(
                f"during a migration, loadBalancerIp is the address that moves from "
                f"{MIGRATION_SOURCE}'s Service to {MIGRATION_TARGET}'s at the cut-over: OVHcloud "
                "releases it when the Service goes unless keepFloatingIp is true, got {got}",
                key="keepFloatingIp",
                got=f"keepFloatingIp false with loadBalancerIp {self.load_balancer_ip}",
                fix="true",
            )
        return self

    @property
    def served_by(self) -> ControllerName:
        """The controller whose load balancer the URL's address is: ingress-nginx until the
        cut-over of a migration, else the configured one."""
        return MIGRATION_SOURCE if self.migration == "side-by-side" else self.controller

    @property
    def running(self) -> tuple[ControllerName, ...]:
        """The controllers that serve the Ingress in this phase: what either cannot do is not
        done (both run from side-by-side to the cut-over, and a rollback makes either serve)."""
        if self.migration == "none":
            return (self.controller,)
        return (MIGRATION_SOURCE, MIGRATION_TARGET)

    @property
    def moves_address(self) -> bool:
        """A cut-over that gives Traefik the address ingress-nginx's Service kept."""
        return self.migration == "cut-over" and self.load_balancer_ip is not None

    @model_validator(mode="after")
    def _flavor_id_through_its_switch(self) -> IngressConfig:
        if LOAD_BALANCER_FLAVOR_ID_ANNOTATION in self.service_annotations:
            raise model_problem(
                "set loadBalancerFlavorId instead of the {got} annotation (the stack writes it)",
                key="loadBalancerFlavorId",
                got=LOAD_BALANCER_FLAVOR_ID_ANNOTATION,
                fix="<flavor uuid>",
            )
        return self

    @model_validator(mode="after")
    def _flavor_through_its_switch(self) -> IngressConfig:
        if LOAD_BALANCER_FLAVOR_ANNOTATION in self.service_annotations:
            raise model_problem(
                "set loadBalancerFlavor instead of the {got} annotation (one setting, one "
                "place: the stack writes that annotation itself)",
                key="loadBalancerFlavor",
                got=LOAD_BALANCER_FLAVOR_ANNOTATION,
                fix=self.service_annotations[LOAD_BALANCER_FLAVOR_ANNOTATION]
                if self.service_annotations[LOAD_BALANCER_FLAVOR_ANNOTATION]
                in ("small", "medium", "large")
                else "small",
            )
        return self

    @field_validator("service_annotations")
    @classmethod
    def _what_kubernetes_takes(cls, annotations: dict[str, str]) -> dict[str, str]:
        """apimachinery's ValidateAnnotations: a key's prefix is a DNS subdomain of at most 253
        characters, and the keys and values of an object total at most 256 KiB."""
        for annotation in annotations:
            prefix, slash, _ = annotation.rpartition("/")
            if slash and len(prefix) > 253:
                raise ValueError(
                    f"the prefix of an annotation key is at most 253 characters, got {len(prefix)}"
                )
        total = sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())
        if total > ANNOTATIONS_BYTES:
            raise ValueError(
                f"the annotations of a Service total at most {ANNOTATIONS_BYTES} bytes "
                f"(Kubernetes' 256 KiB of keys and values, less 1 KiB for the stack's own), "
                f"got {total}"
            )
        return annotations

    @field_validator("proxy_protocol_trusted_cidrs")
    @classmethod
    def _trusted_networks(cls, cidrs: list[str]) -> list[str]:
        networks = []
        for cidr in cidrs:
            try:
                network = ipaddress.IPv4Network(cidr, strict=True)
            except ValueError:
                raise ValueError(
                    f"{cidr!r} is not an IPv4 network with its prefix and no host bits, "
                    "such as 10.0.0.0/16"
                ) from None
            if network.prefixlen == 0:
                raise ValueError(
                    f"{cidr} trusts every sender: anyone could claim any client address; "
                    "list the load balancer's network, such as 10.0.0.0/16"
                )
            networks.append(str(network))
        if len(set(networks)) != len(networks):
            raise ValueError("a network is listed twice")
        return networks

    @field_validator("load_balancer_ip")
    @classmethod
    def _a_floating_ip(cls, address: str | None) -> str | None:
        if address is None:
            return None
        try:
            parsed = ipaddress.IPv4Address(address)
        except ValueError:
            raise ValueError(
                f"{address!r} is not an IPv4 address (OVHcloud's floating IPs are IPv4)"
            ) from None
        if not parsed.is_global:
            raise ValueError(
                f"{address} is not a public address: a load balancer's floating IP is a public "
                "IPv4 address of the project (openstack floating ip list)"
            )
        return str(parsed)

    @model_validator(mode="after")
    def _keep_floating_ip_through_its_switch(self) -> IngressConfig:
        if KEEP_FLOATING_IP_ANNOTATION in self.service_annotations:
            raise model_problem(
                "set keepFloatingIp instead of the {got} annotation (the stack writes it)",
                key="keepFloatingIp",
                got=KEEP_FLOATING_IP_ANNOTATION,
                fix="true",
            )
        return self

    @model_validator(mode="after")
    def _proxy_protocol_through_its_switch(self) -> IngressConfig:
        if PROXY_PROTOCOL_ANNOTATION in self.service_annotations:
            raise model_problem(
                "set proxyProtocol: true instead of the {got} annotation (it also makes the "
                "controller read the PROXY header, without which every request fails)",
                key="proxyProtocol",
                got=PROXY_PROTOCOL_ANNOTATION,
                fix="true",
            )
        return self


def trusted_proxy_networks(ingress: IngressConfig, network: NetworkConfig) -> list[str]:
    """The networks a PROXY header is believed from: the ones listed, else the stack's own
    network when it creates it (the load balancer sends from its subnet); none otherwise."""
    if not ingress.proxy_protocol:
        return []
    if ingress.proxy_protocol_trusted_cidrs:
        return list(ingress.proxy_protocol_trusted_cidrs)
    return [network.cidr] if network.mode == "create" else []
