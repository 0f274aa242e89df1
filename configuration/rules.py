"""Rules across sections: what every rule shares (`Given`, `key`, `unused`), the rules about the
app, its cookie, HTTPS and DNS, and the warnings about what the controller cannot honour.

Each rule is a short function of (the parsed sections, what the user set) that returns problem
lines; the cluster's are in config_rules_cluster.py, secrets' and namespaces' in
config_rules_secrets.py, and stack_config.RULES lists them all in the order they report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from configuration.base import PROJECT
from configuration.controllers import CONTROLLERS, Feature
from configuration.errors import problem
from configuration.formats import cookie_path_covers
from configuration.https import DnsConfig, TlsConfig
from configuration.sections import AffinityConfig, AppConfig, IngressConfig, StackConfig


def key(section: str, field: str) -> str:
    return f"{PROJECT}:{section}.{field}"


@dataclass(frozen=True)
class Given:
    """The parsed sections (absent when a section has errors), the keys the user set, the
    secret keys, the config keys of other namespaces (key -> whether it is secret), and the
    stack's name."""

    sections: Mapping[str, Any]
    keys: Mapping[str, Mapping[str, Any]]
    secret_keys: frozenset[str]
    foreign: Mapping[str, bool] = field(default_factory=dict)
    stack: str = ""

    def set_in(self, section: str) -> list[str]:
        return list(self.keys.get(section, {}))


def unused(section: str, fields: Iterable[str], why: str) -> list[str]:
    return [
        problem(key(section, field), why, f"pulumi config rm --path {key(section, field)}")
        for field in fields
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
    not_used = [k for k in given.set_in("ingress") if k not in kept]
    return unused("ingress", not_used, "only used when ingress.enabled is true")


def app_keys_when_app_off(given: Given) -> list[str]:
    app: AppConfig | None = given.sections.get("app")
    if app is None or app.enabled:
        return []
    why = "only used when app.enabled is true"
    return unused("app", [k for k in given.set_in("app") if k != "enabled"], why) + unused(
        "affinity", given.set_in("affinity"), why
    )


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
    ingress: IngressConfig | None = given.sections.get("ingress")
    feature = Feature.COOKIE_NOT_SECURE_OVER_HTTPS
    controller = next(
        (
            CONTROLLERS[name]
            for name in (ingress.running if ingress is not None else ())
            if not CONTROLLERS[name].supports(feature)
        ),
        None,
    )
    if affinity.secure is False and https and controller:
        return [
            problem(
                secure,
                f"false while the stack serves HTTPS, which changes nothing under "
                f"{controller.name}: {controller.unsupported[feature]}",
                f"pulumi config rm --path {secure}"
                + (
                    f" && pulumi config rm --path {key('affinity', 'insecureWithTls')}"
                    if affinity.insecure_with_tls
                    else ""
                ),
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
        problems += unused(
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
    # Browsers match the prefixes in any case (RFC 6265bis, Chromium and Firefox).
    for prefix, needs_root in (("__Host-", True), ("__Secure-", False)):
        if affinity.cookie_name.lower().startswith(prefix.lower()) and (
            not is_secure or (needs_root and affinity.path != "/")
        ):
            need = "Secure and Path=/" if needs_root else "Secure"
            plain_name = affinity.cookie_name[len(prefix) :] or "stickounet"
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
        not_used = [k for k in given.set_in("tls") if k != "enabled"]
        return unused("tls", not_used, "only used when tls.enabled is true")
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
    if app is not None and app.enabled and app.host is not None and "." not in app.host:
        host = key("app", "host")
        problems.append(
            problem(
                host,
                "a name without a dot while tls.enabled is true: Let's Encrypt issues no "
                "certificate for a single-label name (it is not under a public suffix)",
                f"pulumi config set --path {host} {app.host}.example.com",
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


def controller_warnings(config: StackConfig) -> list[str]:
    """Settings that are valid but that the chosen controller cannot honour, naming the key."""
    if not config.app.enabled:
        return []
    affinity: AffinityConfig = config.affinity
    warnings = []
    for controller in (CONTROLLERS[name] for name in config.ingress.running):
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


def https_warnings(config: StackConfig) -> list[str]:
    """HTTPS settings that are valid but that can keep the certificate from being issued."""
    if not (config.ingress.enabled and config.ingress.proxy_protocol and config.tls.enabled):
        return []
    # cert-manager#466 and #7749, cloud-provider-openstack#1287: kube-proxy short-circuits a
    # LoadBalancer address to the nodes unless the load balancer's status says ipMode: Proxy.
    return [
        f"{key('ingress', 'proxyProtocol')} is true with {key('tls', 'enabled')}: cert-manager's "
        "HTTP-01 self-check runs inside the cluster, where kube-proxy sends the load balancer's "
        "address straight to the controller without a PROXY header, and the controller answers "
        "'broken header': the certificate is never issued unless OVHcloud's load balancer "
        "reports ipMode: Proxy on the controller Service (docs/https.md). Check "
        "with: kubectl get certificate -A"
    ]
