"""Rules across sections: settings that make no sense with the cluster mode or the enabled
parts, what a mode needs, and what the chosen controller cannot honour.

Each rule is a short function of (the parsed sections, what the user set) that returns problem
lines; `RULES` lists them in the order their messages are reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from components.config import AffinityConfig, AppConfig, IngressConfig, StackConfig
from components.config_base import PROJECT, SERVICE_NAME_ENV
from components.config_cluster import ClusterConfig
from components.config_errors import problem
from components.controllers import CONTROLLERS, Feature

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
# The key each cluster mode reads its cluster from, and how to set it.
MODE_SOURCES = {
    "existing": ("kubeconfig", 'pulumi config set --secret --path {key} "$(cat kubeconfig)"'),
    "stack": ("stack", "pulumi config set --path {key} <org>/<project>/<stack>"),
}


def key(section: str, field: str) -> str:
    return f"{PROJECT}:{section}.{field}"


@dataclass(frozen=True)
class Given:
    """The parsed sections (absent when a section has errors) and the keys the user set."""

    sections: Mapping[str, Any]
    keys: Mapping[str, Mapping[str, Any]]
    secret_keys: frozenset[str]

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
    return _unused(
        "cluster", [k for k in CREATE_ONLY_KEYS if k in given.set_in("cluster")], why
    ) + _unused("nodePool", given.set_in("nodePool"), why)


def mode_sources(given: Given) -> list[str]:
    """Each mode's source key: set in its mode, and only there."""
    cluster: ClusterConfig | None = given.sections.get("cluster")
    if cluster is None:
        return []
    problems = []
    for mode, (field, _) in MODE_SOURCES.items():
        if field in given.set_in("cluster") and cluster.mode != mode:
            why = f"only used with cluster.mode {mode} (this stack's mode is {cluster.mode})"
            problems += _unused("cluster", [field], why)
    if cluster.mode in MODE_SOURCES:
        field, fix = MODE_SOURCES[cluster.mode]
        if field not in given.set_in("cluster"):
            full_key = key("cluster", field)
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
    ingress: IngressConfig | None = given.sections.get("ingress")
    app: AppConfig | None = given.sections.get("app")
    if ingress is None or app is None or not (ingress.enabled and app.enabled):
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


RULES: tuple[Callable[[Given], list[str]], ...] = (
    service_name_in_create_mode,
    create_only_keys_in_other_modes,
    mode_sources,
    kubeconfig_is_secret,
    app_namespace_is_its_own,
    ingress_keys_when_ingress_off,
    app_keys_when_app_off,
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
