"""Rules across sections: settings that make no sense with the cluster mode or the enabled
parts, what a mode needs, and what the chosen controller cannot honour.

Each rule is a short function of (the parsed sections, what the user set) that returns problem
lines; `RULES` lists them in the order their messages are reported.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from components.config import AffinityConfig, AppConfig, IngressConfig, StackConfig
from components.config_base import PROJECT, SERVICE_NAME_ENV
from components.config_cluster import (
    MULTI_ZONE_REGIONS,
    ClusterConfig,
    NetworkConfig,
    NodePoolConfig,
)
from components.config_errors import problem
from components.config_https import DnsConfig, TlsConfig
from components.controllers import CONTROLLERS, Feature
from components.formats import cookie_path_covers

# Keys that only mean something when the stack creates the OVHcloud cluster itself.
CREATE_ONLY_KEYS = (
    "serviceName",
    "name",
    "region",
    "version",
    "updatePolicy",
    "plan",
    "protect",
)
# The key each cluster mode reads its cluster from, and how to set it.
MODE_SOURCES = {
    "existing": ("kubeconfig", 'pulumi config set --secret --path {key} "$(cat kubeconfig)"'),
    "stack": ("stack", "pulumi config set --path {key} <org>/<project>/<stack>"),
}


def key(section: str, field: str) -> str:
    return f"{PROJECT}:{section}.{field}"


@dataclass(frozen=True)
class Given:
    """The parsed sections (absent when a section has errors), the keys the user set, the
    secret keys, and the config keys of other namespaces (key -> whether it is secret)."""

    sections: Mapping[str, Any]
    keys: Mapping[str, Mapping[str, Any]]
    secret_keys: frozenset[str]
    foreign: Mapping[str, bool] = field(default_factory=dict)

    def set_in(self, section: str) -> list[str]:
        return list(self.keys.get(section, {}))


def _unused(section: str, fields: Iterable[str], why: str) -> list[str]:
    return [
        problem(key(section, field), why, f"pulumi config rm --path {key(section, field)}")
        for field in fields
    ]


def service_name_in_create_mode(given: Given) -> list[str]:
    cluster: ClusterConfig | None = given.sections.get("cluster")
    if cluster is None or cluster.mode != "create" or cluster.service_name is not None:
        return []
    service_name = key("cluster", "serviceName")
    return [
        problem(
            service_name,
            "not set; expected an OVHcloud Public Cloud project id",
            f"pulumi config set --path {service_name} <project id> or export {SERVICE_NAME_ENV}",
        )
    ]


def create_only_keys_in_other_modes(given: Given) -> list[str]:
    cluster: ClusterConfig | None = given.sections.get("cluster")
    if cluster is None or cluster.mode == "create":
        return []
    why = f"only used with cluster.mode create (this stack's mode is {cluster.mode})"
    return (
        _unused("cluster", [k for k in CREATE_ONLY_KEYS if k in given.set_in("cluster")], why)
        + _unused("network", given.set_in("network"), why)
        + _unused("nodePool", given.set_in("nodePool"), why)
    )


def mode_sources(given: Given) -> list[str]:
    """Each mode's source key: set in its mode, and only there."""
    cluster: ClusterConfig | None = given.sections.get("cluster")
    if cluster is None:
        return []
    problems = []
    for mode, (source, _) in MODE_SOURCES.items():
        if source in given.set_in("cluster") and cluster.mode != mode:
            why = f"only used with cluster.mode {mode} (this stack's mode is {cluster.mode})"
            problems += _unused("cluster", [source], why)
    if cluster.mode in MODE_SOURCES:
        source, fix = MODE_SOURCES[cluster.mode]
        if source not in given.set_in("cluster"):
            full_key = key("cluster", source)
            problems.append(
                problem(
                    full_key,
                    f"not set; cluster.mode {cluster.mode} needs it",
                    fix.format(key=full_key),
                )
            )
    return problems


def kubeconfig_is_secret(given: Given) -> list[str]:
    if given.sections.get("cluster") is None or "kubeconfig" not in given.set_in("cluster"):
        return []
    if f"{PROJECT}:cluster" in given.secret_keys:
        return []
    kubeconfig = key("cluster", "kubeconfig")
    return [
        problem(
            kubeconfig,
            "stored in plain text; it holds credentials",
            f'pulumi config set --secret --path {kubeconfig} "$(cat kubeconfig)"',
        )
    ]


def app_namespace_is_its_own(given: Given) -> list[str]:
    # With ingress.enabled false, ingress.namespace says where the platform's controller is:
    # an app stack that declared that namespace would delete it on destroy.
    ingress: IngressConfig | None = given.sections.get("ingress")
    app: AppConfig | None = given.sections.get("app")
    if ingress is None or app is None or not app.enabled:
        return []
    if app.namespace != ingress.namespace:
        return []
    namespace = key("app", "namespace")
    return [
        problem(
            namespace,
            f"{app.namespace!r} is the controller's namespace; the app gets its own (both would "
            "declare and, on destroy, delete it)",
            f"pulumi config set --path {namespace} <another namespace>",
        )
    ]


def ingress_keys_when_ingress_off(given: Given) -> list[str]:
    ingress: IngressConfig | None = given.sections.get("ingress")
    if ingress is None or ingress.enabled:
        return []
    kept = ("enabled", "controller", "namespace")  # they say where the other controller is
    unused = [k for k in given.set_in("ingress") if k not in kept]
    return _unused("ingress", unused, "only used when ingress.enabled is true")


def app_keys_when_app_off(given: Given) -> list[str]:
    app: AppConfig | None = given.sections.get("app")
    if app is None or app.enabled:
        return []
    why = "only used when app.enabled is true"
    return _unused("app", [k for k in given.set_in("app") if k != "enabled"], why) + _unused(
        "affinity", given.set_in("affinity"), why
    )


def created_cluster_needs_its_controller(given: Given) -> list[str]:
    cluster: ClusterConfig | None = given.sections.get("cluster")
    ingress: IngressConfig | None = given.sections.get("ingress")
    if cluster is None or ingress is None or cluster.mode != "create" or ingress.enabled:
        return []
    enabled = key("ingress", "enabled")
    return [
        problem(
            enabled,
            "false in cluster.mode create: a new cluster has no controller of another stack, "
            "so nothing would answer at the load balancer address the stack reads",
            f"pulumi config set --path {enabled} true",
        )
    ]


def _serves_https(given: Given) -> bool:
    tls: TlsConfig | None = given.sections.get("tls")
    return tls is not None and tls.enabled


def cookie_and_https(given: Given) -> list[str]:
    """What browsers do with the cookie's Secure attribute, prefixes and SameSite=None, given
    whether the stack serves HTTPS (tls.enabled)."""
    affinity: AffinityConfig | None = given.sections.get("affinity")
    app: AppConfig | None = given.sections.get("app")
    if affinity is None or app is None or not app.enabled:
        return []
    https = _serves_https(given)
    secure, name = key("affinity", "secure"), key("affinity", "cookieName")
    if affinity.secure is True and not https:
        return [
            problem(
                secure,
                "true, but this stack serves http://: browsers neither keep nor send back a "
                "Secure cookie over plain http, so no session would stay on its pod",
                f"pulumi config set --path {secure} false (or serve HTTPS: tls.enabled)",
            )
        ]
    if affinity.secure is False and https and not affinity.insecure_with_tls:
        return [
            problem(
                secure,
                "false while the stack serves HTTPS: the cookie would also travel over plain "
                "http (before the redirect), where anyone on the path can read it and take the "
                "session. To keep it anyway, set affinity.insecureWithTls true",
                f"pulumi config rm --path {secure}",
            )
        ]
    problems = []
    if affinity.insecure_with_tls and not (affinity.secure is False and https):
        problems += _unused(
            "affinity", ["insecureWithTls"], "only used with secure false and tls.enabled true"
        )
    is_secure = affinity.is_secure(https)
    if affinity.same_site == "None" and not is_secure:
        same_site = key("affinity", "sameSite")
        problems.append(
            problem(
                same_site,
                "None needs a Secure cookie (browsers drop it otherwise), and a Secure cookie "
                "needs HTTPS (tls.enabled)",
                f"pulumi config set --path {same_site} Lax",
            )
        )
    # RFC 6265bis: browsers drop a __Secure- cookie without Secure, and a __Host- cookie
    # without Secure or with a Path other than /.
    for prefix, needs_root in (("__Host-", True), ("__Secure-", False)):
        if affinity.cookie_name.startswith(prefix) and (
            not is_secure or (needs_root and affinity.path != "/")
        ):
            need = "Secure and Path=/" if needs_root else "Secure"
            plain_name = affinity.cookie_name.removeprefix(prefix) or "stickounet"
            problems.append(
                problem(
                    name,
                    f"browsers drop a {prefix} cookie without {need} (Secure needs HTTPS: "
                    f"tls.enabled), got {affinity.cookie_name!r}",
                    f"pulumi config set --path {name} {plain_name}",
                )
            )
    return problems


def tls_needs_a_host_and_an_email(given: Given) -> list[str]:
    tls: TlsConfig | None = given.sections.get("tls")
    app: AppConfig | None = given.sections.get("app")
    ingress: IngressConfig | None = given.sections.get("ingress")
    if tls is None:
        return []
    if not tls.enabled:
        unused = [k for k in given.set_in("tls") if k != "enabled"]
        return _unused("tls", unused, "only used when tls.enabled is true")
    problems = []
    if app is not None and app.enabled and app.host is None:
        enabled, host = key("tls", "enabled"), key("app", "host")
        problems.append(
            problem(
                enabled,
                "true without app.host: a certificate is issued for a name, and Let's Encrypt "
                "issues none for an IP address",
                f"pulumi config set --path {host} sticky.example.com",
            )
        )
    if tls.creates_issuer and ingress is not None and ingress.enabled and tls.email is None:
        email = key("tls", "email")
        problems.append(
            problem(
                email,
                f"not set; the {tls.issuer} ClusterIssuer this stack creates registers an ACME "
                "account, which needs an e-mail address",
                f"pulumi config set --path {email} ops@example.com",
            )
        )
    return problems


def host_in_the_dns_zone(given: Given) -> list[str]:
    dns: DnsConfig | None = given.sections.get("dns")
    app: AppConfig | None = given.sections.get("app")
    if dns is None or dns.zone is None or app is None:
        return []
    zone, host = key("dns", "zone"), key("app", "host")
    if not app.enabled or app.host is None:
        return [
            problem(
                zone,
                "set, but no app.host: the stack writes the A record of the app's host",
                f"pulumi config set --path {host} sticky.{dns.zone}",
            )
        ]
    if app.host == dns.zone or app.host.endswith(f".{dns.zone}"):
        return []
    return [
        problem(
            host,
            f"{app.host!r} is not in the DNS zone {dns.zone!r}, where the stack writes its record",
            f"pulumi config set --path {host} sticky.{dns.zone}",
        )
    ]


def cookie_path_covers_the_app(given: Given) -> list[str]:
    affinity: AffinityConfig | None = given.sections.get("affinity")
    app: AppConfig | None = given.sections.get("app")
    if affinity is None or app is None or not app.enabled:
        return []
    if cookie_path_covers(affinity.path, app.path):
        return []
    path = key("affinity", "path")
    return [
        problem(
            path,
            f"{affinity.path!r} does not cover app.path {app.path!r}: browsers would never send "
            "the cookie back to the app",
            f"pulumi config set --path {path} {app.path}",
        )
    ]


def zones_of_the_region(given: Given) -> list[str]:
    """What OVHcloud refuses in a three-zone region, and zones a region does not have."""
    cluster: ClusterConfig | None = given.sections.get("cluster")
    network: NetworkConfig | None = given.sections.get("network")
    pool: NodePoolConfig | None = given.sections.get("nodePool")
    if cluster is None or network is None or pool is None or cluster.mode != "create":
        return []
    zones = MULTI_ZONE_REGIONS.get(cluster.region, ())
    problems = []
    for zone in pool.zones:
        if zone not in zones:
            has = f"its zones are {', '.join(zones)}" if zones else "it has a single zone"
            zones_key = key("nodePool", "zones")
            problems.append(
                problem(
                    zones_key,
                    f"{zone!r} is not a zone of {cluster.region} ({has})",
                    f"pulumi config rm --path {zones_key}"
                    if not zones
                    else f"pulumi config set --path '{zones_key}[0]' {zones[0]}",
                )
            )
    if not zones:
        return problems
    where = f"{cluster.region} is a three-zone region"
    if cluster.plan != "standard":
        plan = key("cluster", "plan")
        problems.append(
            problem(
                plan,
                f"free, but {where}: OVHcloud needs the Standard plan there",
                f"pulumi config set --path {plan} standard",
            )
        )
    if network.mode == "none":
        mode = key("network", "mode")
        problems.append(
            problem(
                mode,
                f"none, but {where}: its nodes need a private network with a gateway",
                f"pulumi config set --path {mode} create",
            )
        )
    if network.mode == "existing" and network.gateway_id is None:
        gateway = key("network", "gatewayId")
        problems.append(
            problem(
                gateway,
                f"not set, but {where}: OVHcloud needs a gateway on the network",
                f"pulumi config set --path {gateway} <gateway id>",
            )
        )
    if not pool.zones:
        zones_key = key("nodePool", "zones")
        problems.append(
            problem(
                zones_key,
                f"not set, but {where}: each node pool lives in one zone ({', '.join(zones)})",
                " && ".join(
                    f"pulumi config set --path '{zones_key}[{i}]' {zone}"
                    for i, zone in enumerate(zones)
                ),
            )
        )
    return problems


def network_of_its_mode(given: Given) -> list[str]:
    network: NetworkConfig | None = given.sections.get("network")
    if network is None:
        return []
    set_keys = given.set_in("network")
    used_in = {
        "none": (),
        "create": ("vlanId", "cidr", "gatewayModel"),
        "existing": ("privateNetworkId", "subnetId", "gatewayId"),
    }
    unused = [k for k in set_keys if k != "mode" and k not in used_in[network.mode]]
    problems = _unused("network", unused, f"not used with network.mode {network.mode}")
    if network.mode == "existing":
        for needed in ("privateNetworkId", "subnetId"):
            if needed not in set_keys:
                full_key = key("network", needed)
                problems.append(
                    problem(
                        full_key,
                        "not set; network.mode existing needs it",
                        f"pulumi config set --path {full_key} <id>",
                    )
                )
    return problems


def load_balancer_flavor_of_the_plan(given: Given) -> list[str]:
    """OVHcloud reads a flavor name on the Free plan and a flavor UUID on the Standard plan;
    the other one is ignored without a word."""
    cluster: ClusterConfig | None = given.sections.get("cluster")
    ingress: IngressConfig | None = given.sections.get("ingress")
    if cluster is None or ingress is None or cluster.mode != "create":
        return []
    if cluster.plan == "standard" and ingress.load_balancer_flavor is not None:
        flavor_id = key("ingress", "loadBalancerFlavorId")
        return [
            problem(
                key("ingress", "loadBalancerFlavor"),
                "a flavor name, which the Standard plan ignores: it takes a flavor UUID",
                f"pulumi config rm --path {key('ingress', 'loadBalancerFlavor')} && pulumi "
                f"config set --path {flavor_id} <uuid from openstack loadbalancer flavor list>",
            )
        ]
    if cluster.plan == "free" and ingress.load_balancer_flavor_id is not None:
        flavor = key("ingress", "loadBalancerFlavor")
        return [
            problem(
                key("ingress", "loadBalancerFlavorId"),
                "a flavor UUID, which the Free plan ignores: it takes a flavor name",
                f"pulumi config rm --path {key('ingress', 'loadBalancerFlavorId')} && pulumi "
                f"config set --path {flavor} small",
            )
        ]
    return []


def a_controller_per_zone(given: Given) -> list[str]:
    pool: NodePoolConfig | None = given.sections.get("nodePool")
    ingress: IngressConfig | None = given.sections.get("ingress")
    if pool is None or ingress is None or not ingress.enabled:
        return []
    if ingress.replicas >= len(pool.zones):
        return []
    replicas = key("ingress", "replicas")
    return [
        problem(
            replicas,
            f"{ingress.replicas} for {len(pool.zones)} zones: a zone without a controller "
            "pod loses its traffic share whenever another zone is down",
            f"pulumi config set --path {replicas} {len(pool.zones)}",
        )
    ]


# Sections whose every value lands in plain text in Kubernetes objects, Helm values or outputs.
NEVER_SECRET = ("network", "nodePool", "ingress", "app", "affinity", "tls", "dns")


def secret_sections(given: Given) -> list[str]:
    problems = []
    for section in NEVER_SECRET:
        if f"{PROJECT}:{section}" in given.secret_keys:
            full_key = f"{PROJECT}:{section}"
            problems.append(
                problem(
                    full_key,
                    "holds a value set with --secret, but none of its settings is a secret: each "
                    "is written in plain text into Kubernetes objects, Helm values or outputs",
                    f"pulumi config set --path {full_key}.<field> <value>, without --secret",
                )
            )
    cluster: ClusterConfig | None = given.sections.get("cluster")
    if (
        cluster is not None
        and cluster.mode == "stack"
        and f"{PROJECT}:cluster" in given.secret_keys
    ):
        stack = key("cluster", "stack")
        problems.append(
            problem(
                f"{PROJECT}:cluster",
                "holds a value set with --secret, but in cluster.mode stack it holds only mode "
                "and stack, which name a stack and are not secrets",
                f"pulumi config set --path {stack} <org>/<project>/<stack>, without --secret",
            )
        )
    return problems


def _squeezed(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def near_miss_namespaces(given: Given) -> list[str]:
    """`sticky_sessions:cluster` is not this project's key: its settings would be ignored."""
    problems = []
    for full_key in sorted(given.foreign):
        namespace, _, rest = full_key.partition(":")
        close = difflib.SequenceMatcher(None, _squeezed(namespace), _squeezed(PROJECT)).ratio()
        if namespace != PROJECT and close >= 0.85:
            problems.append(
                problem(
                    full_key,
                    f"the namespace {namespace!r} is not this project's, so these settings would "
                    f"be ignored; the project's keys are {PROJECT}:<key>",
                    f"rename it to {PROJECT}:{rest} in the stack file",
                )
            )
    return problems


# The OVHcloud provider settings that are credentials, and the variable each can come from.
OVH_CREDENTIALS = {
    "applicationSecret": "OVH_APPLICATION_SECRET",
    "consumerKey": "OVH_CONSUMER_KEY",
    "clientSecret": "OVH_CLIENT_SECRET",
    "accessToken": "OVH_ACCESS_TOKEN",
}


def credentials_are_secret(given: Given) -> list[str]:
    problems = []
    for credential, variable in OVH_CREDENTIALS.items():
        full_key = f"ovh:{credential}"
        if given.foreign.get(full_key) is False:
            problems.append(
                problem(
                    full_key,
                    "stored in plain text in the stack file; it is an OVHcloud credential",
                    f"pulumi config set --secret {full_key} <value> (or export {variable})",
                )
            )
    return problems


RULES: tuple[Callable[[Given], list[str]], ...] = (
    near_miss_namespaces,
    credentials_are_secret,
    secret_sections,
    service_name_in_create_mode,
    create_only_keys_in_other_modes,
    mode_sources,
    kubeconfig_is_secret,
    app_namespace_is_its_own,
    ingress_keys_when_ingress_off,
    app_keys_when_app_off,
    created_cluster_needs_its_controller,
    zones_of_the_region,
    network_of_its_mode,
    a_controller_per_zone,
    load_balancer_flavor_of_the_plan,
    cookie_and_https,
    tls_needs_a_host_and_an_email,
    host_in_the_dns_zone,
    cookie_path_covers_the_app,
)


def cross_section_problems(given: Given) -> list[str]:
    return [line for rule in RULES for line in rule(given)]


def controller_warnings(config: StackConfig) -> list[str]:
    """Settings that are valid but that the chosen controller cannot honour, naming the key."""
    if not config.app.enabled:
        return []
    controller = CONTROLLERS[config.ingress.controller]
    affinity: AffinityConfig = config.affinity
    warnings = []
    if affinity.mode == "balanced" and not controller.supports(Feature.BALANCED_AFFINITY):
        mode = key("affinity", "mode")
        warnings.append(
            f"{mode} is balanced, but {controller.unsupported[Feature.BALANCED_AFFINITY]}. "
            f"Set it to persistent to say so: pulumi config set --path {mode} persistent"
        )
    if affinity.change_on_failure and not controller.supports(Feature.CHANGE_ON_FAILURE):
        warnings.append(
            f"{key('affinity', 'changeOnFailure')} is true, but "
            f"{controller.unsupported[Feature.CHANGE_ON_FAILURE]}"
        )
    return warnings
