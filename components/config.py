"""The stack's configuration: parsed once into frozen, typed models; every error names its key.

ingress-nginx silently ignores an annotation value it does not accept and falls back to its
default, so every value that reaches an annotation is checked here, before anything is declared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

PROJECT = "sticky-sessions"
SERVICE_NAME_ENV = "OVH_CLOUD_PROJECT_SERVICE"

# Kubernetes minors that OVHcloud Managed Kubernetes offers for new clusters (its
# "software versions" page); update this set when OVHcloud adds or retires a minor.
SUPPORTED_KUBERNETES_VERSIONS = ("1.31", "1.32", "1.33", "1.34", "1.35")
DEFAULT_KUBERNETES_VERSION = "1.34"

Controller = Literal["ingress-nginx", "traefik"]


@dataclass(frozen=True)
class ControllerDefaults:
    chart_version: str
    namespace: str


CONTROLLER_DEFAULTS: dict[str, ControllerDefaults] = {
    # The final release: ingress-nginx is retired upstream since March 2026.
    "ingress-nginx": ControllerDefaults(chart_version="4.15.1", namespace="ingress-nginx"),
    # Traefik v3.7.11, with its Kubernetes Ingress NGINX provider.
    "traefik": ControllerDefaults(chart_version="41.3.0", namespace="traefik"),
}
DEFAULT_IMAGE = "ovhplatform/what-is-my-pod:1.0.1"

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
SAME_SITE_VALUES = ("Strict", "Lax", "None")
PROXY_PROTOCOL_ANNOTATION = "loadbalancer.openstack.org/proxy-protocol"


class ConfigError(Exception):
    """Invalid stack configuration: one line per problem, each naming its full key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        super().__init__(
            f"invalid configuration ({count}); nothing was deployed:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        )


def _problem(message: str, **context: Any) -> PydanticCustomError:
    """A cross-field error that names the key it belongs to (context['key'])."""
    return PydanticCustomError("config_problem", message, context)


def _capitalise_same_site(value: Any) -> Any:
    # The controller's cookie library drops any spelling but the capitalised one.
    if isinstance(value, str) and value.lower() in {v.lower() for v in SAME_SITE_VALUES}:
        return value.capitalize()
    return value


class _Section(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=True
    )


CPU_QUANTITY = r"^([1-9][0-9]*m|[0-9]+(\.[0-9]{1,3})?)$"
MEMORY_QUANTITY = r"^[1-9][0-9]*(Ki|Mi|Gi|Ti|k|M|G|T)?$"
_MEMORY_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_MEMORY_UNITS |= {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (as MEMORY_QUANTITY accepts it) in bytes."""
    number = re.match(r"^[0-9]+", quantity)
    assert number is not None, quantity
    return int(number.group(0)) * _MEMORY_UNITS[quantity[number.end() :]]


class ResourceRequests(_Section):
    cpu: str = Field(pattern=CPU_QUANTITY, description="a CPU quantity such as 50m or 0.5")
    memory: str = Field(
        pattern=MEMORY_QUANTITY, description="a memory quantity such as 64Mi or 1Gi"
    )


class ResourceLimits(_Section):
    memory: str | None = Field(
        default=None, pattern=MEMORY_QUANTITY, description="a memory quantity such as 128Mi"
    )


class Resources(_Section):
    """A container's requests and memory limit; no CPU limit (it throttles, it does not protect)."""

    requests: ResourceRequests
    limits: ResourceLimits = Field(default_factory=ResourceLimits)

    def kubernetes_spec(self) -> dict[str, Any]:
        """As a container's `resources` field."""
        spec: dict[str, Any] = {"requests": self.requests.model_dump()}
        if self.limits.memory is not None:
            spec["limits"] = {"memory": self.limits.memory}
        return spec

    @model_validator(mode="after")
    def _limit_covers_request(self) -> Resources:
        limit = self.limits.memory
        if limit is not None and memory_bytes(limit) < memory_bytes(self.requests.memory):
            raise _problem(
                "the memory limit must cover the memory request, got {got}",
                key="limits.memory",
                got=f"limit {limit} < request {self.requests.memory}",
            )
        return self


# Defaults: what-is-my-pod is a small Go server; the controller's are the chart's own requests.
APP_RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}
CONTROLLER_RESOURCES = {"requests": {"cpu": "100m", "memory": "90Mi"}, "limits": {}}


def _over(defaults: dict[str, dict[str, str]]) -> Any:
    """Set fields replace the defaults one by one: `resources.limits.memory` alone keeps the
    default requests."""

    def merge(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        merged: dict[str, Any] = {key: dict(part) for key, part in defaults.items()}
        for key, part in value.items():
            merged[key] = {**merged.get(key, {}), **part} if isinstance(part, dict) else part
        return merged

    return merge


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


def kubeconfig_cluster(kubeconfig: str) -> tuple[str, str]:
    """(cluster name, API server URL) of a kubeconfig's current context. The ValueError it
    raises never quotes the kubeconfig: it holds credentials."""
    try:
        document = yaml.safe_load(kubeconfig)
    except yaml.YAMLError:
        raise ValueError("not YAML, so not a kubeconfig") from None
    if not isinstance(document, dict) or not document.get("current-context"):
        raise ValueError("not a kubeconfig with a current-context")
    contexts = {c.get("name"): c.get("context") or {} for c in document.get("contexts") or []}
    context = contexts.get(document["current-context"])
    if context is None:
        raise ValueError("its current-context names no context of the kubeconfig")
    clusters = {c.get("name"): c.get("cluster") or {} for c in document.get("clusters") or []}
    cluster = clusters.get(context.get("cluster"))
    if not cluster or not cluster.get("server"):
        raise ValueError("its current context names no cluster with a server URL")
    return str(context["cluster"]), str(cluster["server"])


class ClusterConfig(_Section):
    mode: ClusterMode = Field(
        default="create",
        description="create (an OVHcloud cluster in this stack), existing (from "
        "cluster.kubeconfig) or stack (from another stack's outputs, cluster.stack)",
    )
    service_name: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{32}$",
        description="an OVHcloud Public Cloud project id (32 lowercase hexadecimal characters)",
    )
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
        description="1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit",
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
    protect: bool = Field(default=False, description="true or false")
    kubeconfig: SecretStr | None = Field(
        default=None,
        description="the kubeconfig of an existing cluster, set with --secret",
        json_schema_extra={"secret": True},
    )
    stack: str | None = Field(
        default=None,
        pattern=STACK_NAME,
        description="the stack that owns the cluster, as <organization>/<project>/<stack>",
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


class NodePoolConfig(_Section):
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
        default=None, ge=0, le=100, description="an integer from 0 to 100 (default: desiredNodes)"
    )
    max_nodes: int | None = Field(
        default=None, ge=1, le=100, description="an integer from 1 to 100 (default: desiredNodes)"
    )
    autoscale: bool = Field(default=False, description="true or false")
    anti_affinity: bool = Field(default=False, description="true or false")
    monthly_billed: bool = Field(default=False, description="true or false")

    @model_validator(mode="after")
    def _coherent_sizes(self) -> NodePoolConfig:
        low, desired, high = self.lowest, self.desired_nodes, self.highest
        if not low <= desired <= high:
            raise _problem(
                "needs minNodes <= desiredNodes <= maxNodes, got {got}",
                key="desiredNodes",
                got=f"{low} <= {desired} <= {high}",
            )
        if self.anti_affinity and high > 5:
            raise _problem(
                "antiAffinity allows at most 5 nodes per pool, got maxNodes {got}",
                key="maxNodes",
                got=high,
                fix="5",
            )
        if self.autoscale and low == high:
            raise _problem(
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


class IngressConfig(_Section):
    enabled: bool = Field(
        default=True,
        description="true or false: false uses the controller another stack installed",
    )
    controller: Controller = Field(
        default="ingress-nginx",
        description="ingress-nginx (retired upstream) or traefik (maintained, same Ingress)",
    )
    # The next two default by controller: see CONTROLLER_DEFAULTS.
    chart_version: str = Field(
        pattern=EXACT_VERSION,
        description="an exact chart version such as 4.15.1 (no range, no 'latest')",
    )
    namespace: str = Field(pattern=RFC1123_LABEL, description="an RFC 1123 label")
    replicas: int = Field(default=1, ge=1, le=20, description="an integer from 1 to 20")
    external_traffic_policy: Literal["Cluster", "Local"] = Field(
        default="Cluster", description="Cluster or Local"
    )
    service_annotations: dict[
        Annotated[str, Field(pattern=ANNOTATION_KEY)], Annotated[str, Field(max_length=4096)]
    ] = Field(
        default_factory=dict,
        description="a map of Kubernetes annotation keys to string values",
    )
    load_balancer_flavor: Literal["small", "medium", "large"] | None = Field(
        default=None, description="small, medium or large (the OVHcloud load balancer size)"
    )
    proxy_protocol: bool = Field(
        default=False,
        description="true or false: the load balancer sends PROXY protocol to the controller",
    )
    resources: Annotated[Resources, BeforeValidator(_over(CONTROLLER_RESOURCES))] = Field(
        default=Resources.model_validate(CONTROLLER_RESOURCES),
        description="requests (cpu, memory) and limits (memory) of the controller container",
    )
    metrics: bool = Field(default=True, description="true or false: expose Prometheus metrics")

    @model_validator(mode="before")
    @classmethod
    def _controller_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        defaults = CONTROLLER_DEFAULTS.get(data.get("controller", "ingress-nginx"))
        if defaults is None:
            return data  # the controller field reports the unknown name
        return {"chartVersion": defaults.chart_version, "namespace": defaults.namespace, **data}

    @model_validator(mode="after")
    def _what_traefik_supports(self) -> IngressConfig:
        if self.controller != "traefik":
            return self
        if self.proxy_protocol:
            raise _problem(
                "the PROXY protocol is only wired for ingress-nginx here; Traefik would have to "
                "trust the load balancer's addresses, which this stack does not know, got {got}",
                key="proxyProtocol",
                got="controller traefik",
                fix="false",
            )
        if not self.metrics:
            raise _problem(
                "the Traefik chart's schema has no value that turns its Prometheus metrics off "
                "(they stay on an internal port the load balancer does not expose), got {got}",
                key="metrics",
                got="controller traefik",
                fix="true",
            )
        return self

    @model_validator(mode="after")
    def _proxy_protocol_through_its_switch(self) -> IngressConfig:
        if PROXY_PROTOCOL_ANNOTATION in self.service_annotations:
            raise _problem(
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


class AppConfig(_Section):
    enabled: bool = Field(default=True, description="true or false")
    name: str = Field(
        default="what-is-my-pod",
        pattern=r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$",
        description="an RFC 1123 label of at most 40 characters",
    )
    namespace: str = Field(
        default="default", pattern=RFC1123_LABEL, description="an RFC 1123 label"
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
    )
    path: str = Field(
        default="/",
        pattern=r"^/[A-Za-z0-9._~/-]*$",
        description="the URL path the Ingress routes to the app (Prefix), such as / or /shop",
    )
    resources: Annotated[Resources, BeforeValidator(_over(APP_RESOURCES))] = Field(
        default=Resources.model_validate(APP_RESOURCES),
        description="requests (cpu, memory) and limits (memory) of the app container",
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


class AffinityConfig(_Section):
    cookie_name: str = Field(
        default="stickounet",
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
    same_site: Annotated[
        Literal["Strict", "Lax", "None"] | None, BeforeValidator(_capitalise_same_site)
    ] = Field(default=None, description="Strict, Lax or None (any case)")
    secure: bool = Field(default=False, description="true or false")
    mode: Literal["balanced", "persistent"] = Field(
        default="balanced", description="balanced or persistent"
    )
    change_on_failure: bool = Field(default=False, description="true or false")

    @model_validator(mode="after")
    def _none_needs_secure(self) -> AffinityConfig:
        if self.same_site == "None" and not self.secure:
            raise _problem(
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


SECTION_MODELS: dict[str, type[_Section]] = {
    "cluster": ClusterConfig,
    "nodePool": NodePoolConfig,
    "ingress": IngressConfig,
    "app": AppConfig,
    "affinity": AffinityConfig,
}
SECTIONS = tuple(SECTION_MODELS)  # the project's config keys, as Pulumi.yaml declares them


def _shown(value: Any, secret: bool) -> str:
    return "[secret]" if secret else json.dumps(value)


def _is_secret_field(field: FieldInfo | None) -> bool:
    extra = field.json_schema_extra if field is not None else None
    return isinstance(extra, dict) and extra.get("secret") is True


def _fix(full_key: str, field: FieldInfo | None) -> str:
    if _is_secret_field(field):
        return f'pulumi config set --secret --path {full_key} "$(cat kubeconfig)"'
    default = getattr(field, "default", None)
    if isinstance(default, str):
        example = default
    elif isinstance(default, (bool, int)):
        example = json.dumps(default)
    else:
        example = "<value>"
    return f"pulumi config set --path {full_key} {example}"


def _fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _nested_model(field: FieldInfo) -> type[BaseModel] | None:
    for candidate in (field.annotation, *get_args(field.annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _walk(
    model: type[BaseModel], loc: list[str]
) -> tuple[type[BaseModel], FieldInfo | None, list[str], list[str]]:
    """Follow an error location through nested models: (the model holding the last key, that
    key's field, the keys walked, what is left: a map entry such as one annotation)."""
    owner, field, keys, rest = model, None, [], list(loc)
    while rest:
        part = rest.pop(0)
        keys.append(part)
        field = _fields(owner).get(part)
        nested = _nested_model(field) if field is not None else None
        if nested is None:
            break
        owner = nested
    return owner, field, keys, rest


def _section_problems(
    project: str, section: str, model: type[BaseModel], error: ValidationError, secret: bool
) -> list[str]:
    problems = []
    for err in error.errors():
        loc = [str(part) for part in err["loc"]]
        if err["type"] == "config_problem":  # a cross-field rule names its key itself
            loc += err["ctx"]["key"].split(".")
        owner, field, keys, entry = _walk(model, loc)
        full_key = f"{project}:{section}" + "".join(f".{key}" for key in keys)
        if err["type"] == "extra_forbidden":
            accepted = ", ".join(_fields(owner))
            problems.append(
                f"{full_key}: unknown key (got {_shown(err['input'], secret)}); "
                f"accepted keys: {accepted}. Fix: pulumi config rm --path {full_key}"
            )
        elif field is None:
            problems.append(f"{full_key}: {err['msg']}")
        elif err["type"] == "missing":
            hint = f" or export {SERVICE_NAME_ENV}" if keys == ["serviceName"] else ""
            problems.append(
                f"{full_key}: not set; expected {field.description}. "
                f"Fix: pulumi config set --path {full_key} <value>{hint}"
            )
        elif err["type"] == "config_problem":
            fix = err["ctx"].get("fix", "<value>")
            problems.append(
                f"{full_key}: {err['msg']}. Fix: pulumi config set --path {full_key} {fix}"
            )
        elif entry:  # an entry of a map, such as one service annotation
            entry_key = f'{full_key}["{entry[0]}"]'
            what = "key" if entry[-1] == "[key]" else "value"
            problems.append(
                f"{entry_key}: invalid {what} (got {_shown(err['input'], secret)}); expected "
                f"{field.description}. Fix: pulumi config rm --path '{entry_key}'"
            )
        else:
            given = _shown(err["input"], secret or _is_secret_field(field))
            if err["type"] == "value_error":  # a validator of ours says why
                given += f" ({err['ctx']['error']})"
            problems.append(
                f"{full_key}: got {given}; expected {field.description}. "
                f"Fix: {_fix(full_key, field)}"
            )
    return problems


def _key(section: str, field: str) -> str:
    return f"{PROJECT}:{section}.{field}"


def _unused(section: str, keys: Iterable[str], why: str) -> list[str]:
    return [
        f"{_key(section, key)}: {why}. Fix: pulumi config rm --path {_key(section, key)}"
        for key in keys
    ]


def _fit_problems(
    sections: Mapping[str, Any], given: Mapping[str, Mapping[str, Any]], secret_keys: frozenset[str]
) -> list[str]:
    """Settings that make no sense with the stack's cluster mode or enabled parts, and settings
    a mode needs. `given` holds what the user set, section by section."""
    problems: list[str] = []
    cluster = sections.get("cluster")
    if cluster is not None:
        mode = cluster.mode
        set_keys = set(given.get("cluster", {}))
        if mode == "create":
            if cluster.service_name is None:
                problems.append(
                    f"{_key('cluster', 'serviceName')}: not set; expected an OVHcloud Public Cloud "
                    f"project id. Fix: pulumi config set --path {_key('cluster', 'serviceName')} "
                    f"<project id> or export {SERVICE_NAME_ENV}"
                )
        else:
            why = f"only used with cluster.mode create (this stack's mode is {mode})"
            problems += _unused("cluster", [k for k in CREATE_ONLY_KEYS if k in set_keys], why)
            problems += _unused("nodePool", given.get("nodePool", {}), why)
        needed = {"existing": "kubeconfig", "stack": "stack"}
        for key, key_mode in (("kubeconfig", "existing"), ("stack", "stack")):
            if key in set_keys and mode != key_mode:
                why = f"only used with cluster.mode {key_mode} (this stack's mode is {mode})"
                problems += _unused("cluster", [key], why)
        if mode in needed and needed[mode] not in set_keys:
            key = needed[mode]
            how = (
                f'pulumi config set --secret --path {_key("cluster", key)} "$(cat kubeconfig)"'
                if key == "kubeconfig"
                else f"pulumi config set --path {_key('cluster', key)} <org>/<project>/<stack>"
            )
            problems.append(
                f"{_key('cluster', key)}: not set; cluster.mode {mode} needs it. Fix: {how}"
            )
        if "kubeconfig" in set_keys and f"{PROJECT}:cluster" not in secret_keys:
            problems.append(
                f"{_key('cluster', 'kubeconfig')}: stored in plain text; it holds credentials. "
                f"Fix: pulumi config set --secret --path {_key('cluster', 'kubeconfig')} "
                '"$(cat kubeconfig)"'
            )
    ingress, app = sections.get("ingress"), sections.get("app")
    if (
        ingress is not None
        and app is not None
        and ingress.enabled
        and app.enabled
        and app.namespace == ingress.namespace
    ):
        problems.append(
            f"{_key('app', 'namespace')}: {app.namespace!r} is the controller's namespace; the "
            "app gets its own (both would declare and, on destroy, delete it). Fix: pulumi config "
            f"set --path {_key('app', 'namespace')} <another namespace>"
        )
    if ingress is not None and not ingress.enabled:
        kept = ("enabled", "controller", "namespace")  # they say where the other controller is
        unused = [k for k in given.get("ingress", {}) if k not in kept]
        problems += _unused("ingress", unused, "only used when ingress.enabled is true")
    if app is not None and not app.enabled:
        problems += _unused(
            "app",
            [k for k in given.get("app", {}) if k != "enabled"],
            "only used when app.enabled is true",
        )
        problems += _unused(
            "affinity", given.get("affinity", {}), "only used when app.enabled is true"
        )
    return problems


def parse_sections(
    project: str,
    raw: Mapping[str, Any],
    models: Mapping[str, type[BaseModel]],
    context: Mapping[str, Any],
    secret_keys: frozenset[str] = frozenset(),
    other_keys: Iterable[str] = (),
) -> tuple[dict[str, Any], dict[str, Mapping[str, Any]], list[str]]:
    """Parse a project's object-valued keys (`raw`: key without the `<project>:` prefix ->
    the CLI's string) with one model each. Returns the parsed sections, what the user set in
    each, and one message per problem; a key in neither `models` nor `other_keys` is a problem."""
    problems: list[str] = []
    sections: dict[str, Any] = {}
    given: dict[str, Mapping[str, Any]] = {}
    known = [*models, *other_keys]
    for key in sorted(set(raw) - set(known)):
        problems.append(
            f"{project}:{key}: unknown key; accepted keys: "
            + ", ".join(f"{project}:{k}" for k in known)
            + f". Fix: pulumi config rm {project}:{key}"
        )
    for section, model in models.items():
        full_key = f"{project}:{section}"
        secret = full_key in secret_keys
        value = raw.get(section, "{}")
        try:
            data = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            data = value
        if not isinstance(data, dict):
            problems.append(
                f"{full_key}: got {_shown(data, secret)}; expected an object of settings. "
                f"Fix: pulumi config rm {full_key}, "
                f"then pulumi config set --path {full_key}.<field> <value>"
            )
            continue
        given[section] = data
        try:
            sections[section] = model.model_validate(data, context=context)
        except ValidationError as error:
            problems.extend(_section_problems(project, section, model, error, secret))
    return sections, given, problems


def parse_stack_config(
    raw: Mapping[str, Any],
    stack: str,
    environ: Mapping[str, str],
    secret_keys: frozenset[str] = frozenset(),
) -> StackConfig:
    """Parse the project's configuration (key -> string, as the CLI passes it) into StackConfig.

    `raw` holds the project's keys without the `sticky-sessions:` prefix. Raises ConfigError
    listing every problem.
    """
    context = {"stack": stack, "environ": environ}
    sections, given, problems = parse_sections(PROJECT, raw, SECTION_MODELS, context, secret_keys)
    problems += _fit_problems(sections, given, secret_keys)
    if problems:
        raise ConfigError(problems)
    return StackConfig(stack=stack, **sections)


def config_warnings(config: StackConfig) -> list[str]:
    """Settings that are valid but that the chosen controller cannot honour, naming the key."""
    if not config.app.enabled or config.ingress.controller != "traefik":
        return []
    warnings = []
    if config.affinity.mode == "balanced":
        warnings.append(
            f"{PROJECT}:affinity.mode is balanced, but Traefik always keeps a client on its pod "
            "(persistent): a scale-up does not rebalance sessions. Set it to persistent to say so: "
            f"pulumi config set --path {PROJECT}:affinity.mode persistent"
        )
    if config.affinity.change_on_failure:
        warnings.append(
            f"{PROJECT}:affinity.changeOnFailure is true, but Traefik ignores it: a client stays "
            "on its pod until the pod is gone"
        )
    return warnings


def running_config(project: str) -> tuple[dict[str, Any], frozenset[str]]:
    """The running program's config for `project` (keys without the prefix), and its secret keys."""
    from pulumi.runtime import config as runtime_config

    prefix = f"{project}:"
    every_key = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw = {key[len(prefix) :]: value for key, value in every_key.items() if key.startswith(prefix)}
    return raw, frozenset(k for k in every_key if runtime_config.is_config_secret(k))


def load_stack_config() -> StackConfig:
    """Read the running stack's configuration; a bad value stops the program before any resource."""
    import os

    import pulumi

    raw, secret_keys = running_config(PROJECT)
    try:
        config = parse_stack_config(raw, pulumi.get_stack(), os.environ, secret_keys)
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None
    for warning in config_warnings(config):
        pulumi.log.warn(warning)
    return config
