"""The stack's configuration: parsed once into frozen, typed models; every error names its key.

ingress-nginx silently ignores an annotation value it does not accept and falls back to its
default, so every value that reaches an annotation is checked here, before anything is declared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

PROJECT = "sticky-sessions"
SECTIONS = ("cluster", "nodePool", "ingress", "app", "affinity")
SERVICE_NAME_ENV = "OVH_CLOUD_PROJECT_SERVICE"

# Kubernetes minors that OVHcloud Managed Kubernetes offers for new clusters (its
# "software versions" page); update this set when OVHcloud adds or retires a minor.
SUPPORTED_KUBERNETES_VERSIONS = ("1.31", "1.32", "1.33", "1.34", "1.35")
DEFAULT_KUBERNETES_VERSION = "1.34"

INGRESS_NGINX_CHART_VERSION = "4.15.1"  # the final release: ingress-nginx is retired upstream
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


class ClusterConfig(_Section):
    service_name: str = Field(
        pattern=r"^[0-9a-f]{32}$",
        description="an OVHcloud Public Cloud project id (32 lowercase hexadecimal characters)",
    )
    name: str = Field(
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

    @model_validator(mode="before")
    @classmethod
    def _fill_from_stack(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or info.context is None:
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
            raise ValueError("unsupported")
        return version


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
                value=desired,
                got=f"{low} <= {desired} <= {high}",
            )
        if self.anti_affinity and high > 5:
            raise _problem(
                "antiAffinity allows at most 5 nodes per pool, got maxNodes {got}",
                key="maxNodes",
                value=high,
                got=high,
            )
        if self.autoscale and low == high:
            raise _problem(
                "autoscale needs room to scale: minNodes ({got}) equals maxNodes",
                key="maxNodes",
                value=high,
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
    controller: Literal["ingress-nginx"] = Field(
        default="ingress-nginx", description="ingress-nginx"
    )
    chart_version: str = Field(
        default=INGRESS_NGINX_CHART_VERSION,
        pattern=EXACT_VERSION,
        description="an exact chart version such as 4.15.1 (no range, no 'latest')",
    )
    namespace: str = Field(
        default="ingress-nginx", pattern=RFC1123_LABEL, description="an RFC 1123 label"
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
    )


def _image_is_pinned(image: str) -> str:
    if "@sha256:" in image:
        return image
    last_part = image.rsplit("/", 1)[-1]
    if ":" not in last_part or last_part.rsplit(":", 1)[1] in {"", "latest"}:
        raise ValueError("unpinned")
    return image


class AppConfig(_Section):
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
                value=self.secure,
                got="secure: false",
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


def _shown(value: Any, secret: bool) -> str:
    return "[secret]" if secret else json.dumps(value)


def _fix(full_key: str, field: Any | None) -> str:
    default = getattr(field, "default", None)
    if isinstance(default, str):
        example = default
    elif isinstance(default, (bool, int)):
        example = json.dumps(default)
    else:
        example = "<value>"
    return f"pulumi config set --path {full_key} {example}"


def _section_problems(
    section: str, error: ValidationError, raw: Mapping[str, Any], secret: bool
) -> list[str]:
    model = SECTION_MODELS[section]
    fields_by_alias = {field.alias or name: field for name, field in model.model_fields.items()}
    accepted_keys = ", ".join(fields_by_alias)
    problems = []
    for err in error.errors():
        loc = [str(part) for part in err["loc"]]
        if err["type"] == "config_problem":
            loc = [err["ctx"]["key"]]
        if not loc:
            problems.append(f"{PROJECT}:{section}: {err['msg']}")
            continue
        field_name = loc[0]
        full_key = f"{PROJECT}:{section}." + ".".join(loc)
        field = fields_by_alias.get(field_name)
        if err["type"] == "extra_forbidden":
            problems.append(
                f"{full_key}: unknown key (got {_shown(err['input'], secret)}); "
                f"accepted keys: {accepted_keys}. Fix: pulumi config rm --path {full_key}"
            )
        elif err["type"] == "missing":
            hint = f" or export {SERVICE_NAME_ENV}" if field_name == "serviceName" else ""
            problems.append(
                f"{full_key}: not set; expected {field.description}. "
                f"Fix: pulumi config set --path {full_key} <value>{hint}"
            )
        elif err["type"] == "config_problem":
            problems.append(
                f"{full_key}: {err['msg']}. Fix: pulumi config set --path {full_key} <value>"
            )
        elif len(loc) > 1:  # an entry of a map, such as one service annotation
            entry_key = f'{PROJECT}:{section}.{field_name}["{loc[1]}"]'
            what = "key" if loc[-1] == "[key]" else "value"
            problems.append(
                f"{entry_key}: invalid {what} (got {_shown(err['input'], secret)}); expected "
                f"{field.description}. Fix: pulumi config rm --path '{entry_key}'"
            )
        else:
            problems.append(
                f"{full_key}: got {_shown(raw.get(field_name), secret)}; expected "
                f"{field.description}. Fix: {_fix(full_key, field)}"
            )
    return problems


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
    problems: list[str] = []
    sections: dict[str, Any] = {}
    for key in sorted(set(raw) - set(SECTIONS)):
        problems.append(
            f"{PROJECT}:{key}: unknown key; accepted keys: "
            + ", ".join(f"{PROJECT}:{s}" for s in SECTIONS)
            + f". Fix: pulumi config rm {PROJECT}:{key}"
        )
    context = {"stack": stack, "environ": environ}
    for section in SECTIONS:
        full_key = f"{PROJECT}:{section}"
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
        try:
            sections[section] = SECTION_MODELS[section].model_validate(data, context=context)
        except ValidationError as error:
            problems.extend(_section_problems(section, error, data, secret))
    if problems:
        raise ConfigError(problems)
    return StackConfig(stack=stack, **sections)


def load_stack_config() -> StackConfig:
    """Read the running stack's configuration; a bad value stops the program before any resource."""
    import os

    import pulumi
    from pulumi.runtime import config as runtime_config

    prefix = f"{PROJECT}:"
    every_key = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw = {key[len(prefix) :]: value for key, value in every_key.items() if key.startswith(prefix)}
    secret_keys = frozenset(k for k in every_key if runtime_config.is_config_secret(k))
    try:
        return parse_stack_config(raw, pulumi.get_stack(), os.environ, secret_keys)
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None
