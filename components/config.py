"""The stack's configuration models: one frozen, typed model per section of `Pulumi.yaml`.

This is the file to edit to add a key. ingress-nginx silently ignores an annotation value it
does not accept and falls back to its default, so every value that reaches an annotation is
checked here, before anything is declared. Turning errors into messages is config_errors.py's
job; rules across sections are config_rules.py's; reading the running stack is stack_config.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from components.config_errors import model_problem
from components.controllers import (
    CONTROLLERS,
    DEFAULT_CONTROLLER,
    Controller,
    ControllerName,
    Feature,
)
from components.kubeconfig import kubeconfig_cluster
from components.resources import (
    APP_RESOURCES,
    CONTROLLER_RESOURCES,
    Resources,
    Section,
    over_defaults,
)

PROJECT = "sticky-sessions"
SERVICE_NAME_ENV = "OVH_CLOUD_PROJECT_SERVICE"

# Kubernetes minors that OVHcloud Managed Kubernetes offers for new clusters (its
# "software versions" page); update this set when OVHcloud adds or retires a minor.
SUPPORTED_KUBERNETES_VERSIONS = ("1.31", "1.32", "1.33", "1.34", "1.35")
DEFAULT_KUBERNETES_VERSION = "1.34"
DEFAULT_IMAGE = "ovhplatform/what-is-my-pod:1.0.1"
DEFAULT_COOKIE_NAME = "stickounet"


def docs(note: str = "", shown_default: str = "") -> dict[str, Any]:
    """What the README's configuration table (tools/config_table.py) says of a field beyond its
    description: a note, and the default when it is not a plain value."""
    return {
        key: value for key, value in (("note", note), ("shown_default", shown_default)) if value
    }


def _by_controller(fact: Callable[[Controller], str]) -> str:
    return ", ".join(f"`{fact(c)}` ({name})" for name, c in CONTROLLERS.items())


# RFC 1123 label: what Kubernetes accepts for namespaces and what OVHcloud accepts for pool names.
RFC1123_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
RFC1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ANNOTATION_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
# The characters that both RFC 6265 (cookie-name token) and the controller's cookie name accept.
COOKIE_NAME = r"^[A-Za-z0-9._~-]{1,64}$"
EXACT_VERSION = r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
SameSite = Literal["Strict", "Lax", "None"]
PROXY_PROTOCOL_ANNOTATION = "loadbalancer.openstack.org/proxy-protocol"


def _capitalise_same_site(value: Any) -> Any:
    # The controller's cookie library drops any spelling but the capitalised one.
    if isinstance(value, str) and value.lower() in {v.lower() for v in get_args(SameSite)}:
        return value.capitalize()
    return value


ClusterMode = Literal["create", "existing", "stack"]
# Keys that only mean something when the stack creates the OVHcloud cluster itself.
CREATE_ONLY_KEYS = (
    "serviceName",
    "name",
    "region",
    "version",
    "updatePolicy",
    "privateNetworkId",
    "protect",
)
STACK_NAME = r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$"


class ClusterConfig(Section):
    mode: ClusterMode = Field(
        default="create",
        description="create (an OVHcloud cluster in this stack), existing (from "
        "cluster.kubeconfig) or stack (from another stack's outputs, cluster.stack)",
        json_schema_extra=docs(note="see *Stack composition*"),
    )
    service_name: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{32}$",
        description="an OVHcloud Public Cloud project id (32 lowercase hexadecimal characters)",
        json_schema_extra=docs(
            note="required in `create` mode", shown_default="`$OVH_CLOUD_PROJECT_SERVICE`"
        ),
    )
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
        description="1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit",
        json_schema_extra=docs(shown_default="`sticky-<stack>`"),
    )
    region: str = Field(
        default="GRA9",
        pattern=r"^[A-Z]+[0-9]*(-[A-Z0-9]+)*$",
        description="an OVHcloud region code such as GRA9, SBG5, BHS5, DE1 or EU-WEST-PAR",
    )
    version: str = Field(
        default=DEFAULT_KUBERNETES_VERSION,
        description="a Kubernetes MAJOR.MINOR that OVHcloud offers: "
        + ", ".join(SUPPORTED_KUBERNETES_VERSIONS),
    )
    update_policy: Literal["ALWAYS_UPDATE", "MINIMAL_DOWNTIME", "NEVER_UPDATE"] = Field(
        default="MINIMAL_DOWNTIME",
        description="one of ALWAYS_UPDATE, MINIMAL_DOWNTIME, NEVER_UPDATE",
    )
    private_network_id: str | None = Field(
        default=None, min_length=1, description="an OVHcloud private network (vRack) id"
    )
    protect: bool = Field(
        default=False,
        description="true or false",
        json_schema_extra=docs(note="`true` protects the cluster and pool from deletion"),
    )
    kubeconfig: SecretStr | None = Field(
        default=None,
        description="the kubeconfig of an existing cluster, set with --secret",
        json_schema_extra={"secret": True, "note": "`existing` mode"},
    )
    stack: str | None = Field(
        default=None,
        pattern=STACK_NAME,
        description="the stack that owns the cluster, as <organization>/<project>/<stack>",
        json_schema_extra=docs(note="`stack` mode"),
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_from_stack(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or info.context is None:
            return data
        if data.get("mode", "create") != "create":
            return data
        filled = dict(data)
        environ = info.context.get("environ", {})
        if "serviceName" not in filled and environ.get(SERVICE_NAME_ENV):
            filled["serviceName"] = environ[SERVICE_NAME_ENV]
        filled.setdefault("name", f"sticky-{info.context['stack']}")
        return filled

    @field_validator("version")
    @classmethod
    def _supported_version(cls, version: str) -> str:
        if version not in SUPPORTED_KUBERNETES_VERSIONS:
            raise ValueError("OVHcloud does not offer it")
        return version

    @field_validator("kubeconfig")
    @classmethod
    def _a_kubeconfig(cls, kubeconfig: SecretStr | None) -> SecretStr | None:
        if kubeconfig is not None:
            kubeconfig_cluster(kubeconfig.get_secret_value())
        return kubeconfig


class NodePoolConfig(Section):
    name: str = Field(
        default="default",
        pattern=RFC1123_LABEL,
        description="an RFC 1123 label: lowercase letters, digits, '-' (OVHcloud refuses '_')",
    )
    flavor: str = Field(
        default="b3-8",
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)+$",
        description="an OVHcloud instance flavor such as b3-8, b3-16 or c3-8",
    )
    desired_nodes: int = Field(default=3, ge=1, le=100, description="an integer from 1 to 100")
    min_nodes: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="an integer from 0 to 100 (default: desiredNodes)",
        json_schema_extra=docs(
            note="`minNodes <= desiredNodes <= maxNodes`", shown_default="`desiredNodes`"
        ),
    )
    max_nodes: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="an integer from 1 to 100 (default: desiredNodes)",
        json_schema_extra=docs(
            note="`minNodes <= desiredNodes <= maxNodes`", shown_default="`desiredNodes`"
        ),
    )
    autoscale: bool = Field(
        default=False,
        description="true or false",
        json_schema_extra=docs(note="needs `minNodes < maxNodes`"),
    )
    anti_affinity: bool = Field(
        default=False,
        description="true or false",
        json_schema_extra=docs(note="nodes on distinct hypervisors; at most 5 nodes"),
    )
    monthly_billed: bool = Field(default=False, description="true or false")

    @model_validator(mode="after")
    def _coherent_sizes(self) -> NodePoolConfig:
        low, desired, high = self.lowest, self.desired_nodes, self.highest
        if not low <= desired <= high:
            raise model_problem(
                "needs minNodes <= desiredNodes <= maxNodes, got {got}",
                key="desiredNodes",
                got=f"{low} <= {desired} <= {high}",
            )
        if self.anti_affinity and high > 5:
            raise model_problem(
                "antiAffinity allows at most 5 nodes per pool, got maxNodes {got}",
                key="maxNodes",
                got=high,
                fix="5",
            )
        if self.autoscale and low == high:
            raise model_problem(
                "autoscale needs room to scale: minNodes ({got}) equals maxNodes",
                key="maxNodes",
                got=low,
            )
        return self

    @property
    def lowest(self) -> int:
        return self.desired_nodes if self.min_nodes is None else self.min_nodes

    @property
    def highest(self) -> int:
        return self.desired_nodes if self.max_nodes is None else self.max_nodes


class IngressConfig(Section):
    enabled: bool = Field(
        default=True,
        description="true or false: false uses the controller another stack installed",
    )
    controller: ControllerName = Field(
        default=DEFAULT_CONTROLLER,
        description=" or ".join(c.description for c in CONTROLLERS.values()),
        json_schema_extra=docs(note="see *Moving to Traefik*"),
    )
    # The next two default by controller: see components/controllers.py.
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
        json_schema_extra=docs(note="sets `loadbalancer.ovhcloud.com/flavor`"),
    )
    proxy_protocol: bool = Field(
        default=False,
        description="true or false: the load balancer sends PROXY protocol to the controller",
        json_schema_extra=docs(note="the real client IP; ingress-nginx only"),
    )
    resources: Annotated[Resources, BeforeValidator(over_defaults(CONTROLLER_RESOURCES))] = Field(
        default=Resources.model_validate(CONTROLLER_RESOURCES),
        description="requests (cpu, memory) and limits (memory) of the controller container",
        json_schema_extra=docs(note="set fields replace the defaults one by one"),
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
        controller = CONTROLLERS.get(data.get("controller", DEFAULT_CONTROLLER))
        if controller is None:
            return data  # the controller field reports the unknown name
        return {"chartVersion": controller.chart.version, "namespace": controller.namespace, **data}

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


def _image_is_pinned(image: str) -> str:
    if "@sha256:" in image:
        return image
    last_part = image.rsplit("/", 1)[-1]
    if ":" not in last_part or last_part.rsplit(":", 1)[1] in {"", "latest"}:
        raise ValueError("no tag, or the moving latest tag")
    return image


class AppConfig(Section):
    enabled: bool = Field(default=True, description="true or false")
    name: str = Field(
        default="what-is-my-pod",
        pattern=r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$",
        description="an RFC 1123 label of at most 40 characters",
    )
    namespace: str = Field(
        default="default",
        pattern=RFC1123_LABEL,
        description="an RFC 1123 label",
        json_schema_extra=docs(note="created unless `default`"),
    )
    image: str = Field(
        default=DEFAULT_IMAGE,
        pattern=r"^[^\s]+$",
        description="an image with an explicit tag other than 'latest', or a digest (@sha256:...)",
    )
    replicas: int = Field(default=3, ge=1, le=100, description="an integer from 1 to 100")
    port: int = Field(default=8080, ge=1, le=65535, description="an integer from 1 to 65535")
    host: str | None = Field(
        default=None,
        pattern=RFC1123_SUBDOMAIN,
        max_length=253,
        description="a lowercase DNS name such as sticky.example.com",
        json_schema_extra=docs(note="the Ingress then only answers for it"),
    )
    path: str = Field(
        default="/",
        pattern=r"^/[A-Za-z0-9._~/-]*$",
        description="the URL path the Ingress routes to the app (Prefix), such as / or /shop",
    )
    resources: Annotated[Resources, BeforeValidator(over_defaults(APP_RESOURCES))] = Field(
        default=Resources.model_validate(APP_RESOURCES),
        description="requests (cpu, memory) and limits (memory) of the app container",
        json_schema_extra=docs(note="set fields replace the defaults one by one"),
    )
    run_as_user: int = Field(
        default=10001, ge=1, le=2**31 - 1, description="a non-root user id (1 or more)"
    )
    run_as_group: int = Field(
        default=10001, ge=1, le=2**31 - 1, description="a non-root group id (1 or more)"
    )

    @field_validator("image")
    @classmethod
    def _pinned(cls, image: str) -> str:
        return _image_is_pinned(image)


class AffinityConfig(Section):
    cookie_name: str = Field(
        default=DEFAULT_COOKIE_NAME,
        pattern=COOKIE_NAME,
        description="1 to 64 of A-Z a-z 0-9 . _ ~ -",
    )
    expires: int = Field(default=172800, ge=0, description="a non-negative integer (seconds)")
    max_age: int = Field(default=172800, ge=0, description="a non-negative integer (seconds)")
    path: str = Field(
        default="/",
        pattern=r"^/[^\s;,]*$",
        description="a path starting with '/', without spaces, ';' or ','",
    )
    same_site: Annotated[SameSite | None, BeforeValidator(_capitalise_same_site)] = Field(
        default=None,
        description="Strict, Lax or None (any case)",
        json_schema_extra=docs(note="sent capitalised; `None` needs `secure`"),
    )
    secure: bool = Field(default=False, description="true or false")
    mode: Literal["balanced", "persistent"] = Field(
        default="balanced",
        description="balanced or persistent",
        json_schema_extra=docs(note="`balanced` rebalances some sessions on scale-up"),
    )
    change_on_failure: bool = Field(
        default=False,
        description="true or false",
        json_schema_extra=docs(note="`true` re-pins a client when its pod fails"),
    )

    @model_validator(mode="after")
    def _none_needs_secure(self) -> AffinityConfig:
        if self.same_site == "None" and not self.secure:
            raise model_problem(
                "SameSite=None needs secure: true (browsers drop it otherwise), got {got}",
                key="secure",
                got="secure: false",
                fix="true",
            )
        return self


class StackConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, populate_by_name=True)

    stack: str
    cluster: ClusterConfig
    node_pool: NodePoolConfig = Field(alias="nodePool")
    ingress: IngressConfig
    app: AppConfig
    affinity: AffinityConfig


SECTION_MODELS: dict[str, type[Section]] = {
    "cluster": ClusterConfig,
    "nodePool": NodePoolConfig,
    "ingress": IngressConfig,
    "app": AppConfig,
    "affinity": AffinityConfig,
}
SECTIONS = tuple(SECTION_MODELS)  # the project's config keys, as Pulumi.yaml declares them
