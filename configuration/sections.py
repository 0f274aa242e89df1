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
    field_validator,
)

from configuration.base import (
    COOKIE_NAME,
    RFC1123_LABEL,
    RFC1123_SUBDOMAIN,
    SYSTEM_NAMESPACES,
    Section,
    docs,
)
from configuration.cluster import ClusterConfig, NetworkConfig, NodePoolConfig
from configuration.formats import image_problem, ingress_path_problem, is_ip_address
from configuration.https import DnsConfig, TlsConfig
from configuration.ingress import (  # re-exported: the section models are all named here
    IngressConfig,
)
from configuration.resources import (
    APP_RESOURCES,
    Resources,
    over_defaults,
)

DEFAULT_IMAGE = "ovhplatform/what-is-my-pod:1.0.1"
DEFAULT_COOKIE_NAME = "stickounet"


SameSite = Literal["Strict", "Lax", "None"]


def _capitalise_same_site(value: Any) -> Any:
    # The controller's cookie library drops any spelling but the capitalised one.
    if isinstance(value, str) and value.lower() in {v.lower() for v in get_args(SameSite)}:
        return value.capitalize()
    return value


def _accepted(value: str, problem_of: Callable[[str], str | None]) -> str:
    problem = problem_of(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class AppConfig(Section):
    enabled: bool = Field(default=True, description="true or false")
    name: str = Field(
        default="what-is-my-pod",
        # The Service is named after it: a DNS-1035 label, which starts with a letter.
        pattern=r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$",
        description="a DNS-1035 label of at most 40 characters: lowercase letters, digits and "
        "'-', starting with a letter",
    )
    namespace: str = Field(
        default="default",
        pattern=RFC1123_LABEL,
        description="an RFC 1123 label",
        json_schema_extra=docs(note="created unless `default`"),
    )
    image: str = Field(
        default=DEFAULT_IMAGE,
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
        return _accepted(image, image_problem)

    @field_validator("path")
    @classmethod
    def _a_path_the_controller_takes(cls, path: str) -> str:
        return _accepted(path, ingress_path_problem)

    @field_validator("host")
    @classmethod
    def _a_name_not_an_address(cls, host: str | None) -> str | None:
        if host is not None and is_ip_address(host):
            raise ValueError("an Ingress host is a DNS name, never an IP address")
        if host is not None and any(len(label) > 63 for label in host.split(".")):
            raise ValueError("a DNS label is at most 63 characters")
        return host

    @field_validator("namespace")
    @classmethod
    def _not_a_system_namespace(cls, namespace: str) -> str:
        if namespace in SYSTEM_NAMESPACES:
            raise ValueError("every cluster has it: the stack must never own it")
        return namespace


class AffinityConfig(Section):
    cookie_name: str = Field(
        default=DEFAULT_COOKIE_NAME,
        pattern=COOKIE_NAME,
        description="1 to 64 of A-Z a-z 0-9 . _ ~ -",
    )
    # 0 or less makes browsers delete the cookie at once: no session would stay pinned.
    expires: int = Field(default=172800, ge=1, description="a positive integer (seconds)")
    max_age: int = Field(default=172800, ge=1, description="a positive integer (seconds)")
    path: str = Field(
        default="/",
        # What the controller's annotation validation takes, less ',', ':', '?', '&', '='.
        pattern=r"^/[-._~A-Za-z0-9/]*$",
        description="a path starting with '/', of ASCII letters, digits, '.', '_', '~', '-', '/'",
    )
    same_site: Annotated[SameSite | None, BeforeValidator(_capitalise_same_site)] = Field(
        default=None,
        description="Strict, Lax or None (any case)",
        json_schema_extra=docs(note="sent capitalised; `None` needs `secure`"),
    )
    secure: bool | None = Field(
        default=None,
        description="true or false",
        json_schema_extra=docs(
            shown_default="`tls.enabled`",
            note="true needs HTTPS; false with HTTPS only under Traefik (ingress-nginx marks "
            "the cookie Secure on every HTTPS request)",
        ),
    )
    insecure_with_tls: bool = Field(
        default=False,
        description="true or false: true keeps secure false although the stack serves HTTPS",
        json_schema_extra=docs(note="Traefik only; the cookie then also travels over plain http"),
    )
    mode: Literal["balanced", "persistent"] = Field(
        default="balanced",
        description="balanced or persistent",
        json_schema_extra=docs(
            note="`balanced`: a scale-up or surge pod moves sessions (keeping their cookie); "
            "`persistent`: only a gone pod's sessions move (measured: [sessions](sessions.md))"
        ),
    )
    change_on_failure: bool = Field(
        default=False,
        description="true or false",
        json_schema_extra=docs(
            note="`true` re-pins a session when its pod refuses or drops the connection; "
            "never on an HTTP 5xx"
        ),
    )

    def is_secure(self, serves_https: bool) -> bool:
        """The cookie's Secure attribute: as set, else on exactly when the stack serves HTTPS."""
        return serves_https if self.secure is None else self.secure


class StackConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, populate_by_name=True)

    stack: str
    secret_sections: frozenset[str] = frozenset()  # sections holding a value set with --secret
    cluster: ClusterConfig
    network: NetworkConfig
    tls: TlsConfig
    dns: DnsConfig
    node_pool: NodePoolConfig = Field(alias="nodePool")
    ingress: IngressConfig
    app: AppConfig
    affinity: AffinityConfig


SECTION_MODELS: dict[str, type[Section]] = {
    "cluster": ClusterConfig,
    "network": NetworkConfig,
    "nodePool": NodePoolConfig,
    "ingress": IngressConfig,
    "app": AppConfig,
    "affinity": AffinityConfig,
    "tls": TlsConfig,
    "dns": DnsConfig,
}
SECTIONS = tuple(SECTION_MODELS)  # the project's config keys, as Pulumi.yaml declares them
