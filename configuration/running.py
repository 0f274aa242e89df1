"""Read the running stack's configuration once, as the CLI passes it, into a StackConfig."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pulumi

from configuration.base import PROJECT
from configuration.errors import ConfigError, masked, parse_sections, secret_values
from configuration.rules import (
    Given,
    app_keys_when_app_off,
    app_namespace_is_its_own,
    controller_warnings,
    cookie_and_https,
    cookie_path_covers_the_app,
    host_in_the_dns_zone,
    https_warnings,
    ingress_keys_when_ingress_off,
    tls_needs_a_host_and_an_email,
)
from configuration.rules_cluster import (
    a_controller_per_zone,
    api_access_on_prod,
    create_only_keys_in_other_modes,
    created_cluster_needs_its_controller,
    load_balancer_flavor_of_the_plan,
    mode_sources,
    network_of_its_mode,
    network_outside_the_pods_of_the_plan,
    proxy_protocol_trusts_a_network,
    service_name_in_create_mode,
    subnet_holds_the_nodes,
    zones_of_the_region,
)
from configuration.rules_secrets import (
    credentials_are_secret,
    kubeconfig_is_secret,
    near_miss_namespaces,
    secret_sections,
)
from configuration.sections import SECTION_MODELS, StackConfig

# Every rule across sections, in the order their messages are reported.
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
    network_outside_the_pods_of_the_plan,
    api_access_on_prod,
    a_controller_per_zone,
    load_balancer_flavor_of_the_plan,
    proxy_protocol_trusts_a_network,
    subnet_holds_the_nodes,
    cookie_and_https,
    tls_needs_a_host_and_an_email,
    host_in_the_dns_zone,
    cookie_path_covers_the_app,
)


def cross_section_problems(given: Given) -> list[str]:
    """Every rule's lines, with any value of a secret section masked: a rule that compares two
    settings may quote one that is secret (a secret dns.zone in app.host's message)."""
    secret_sections = [
        section for section in given.keys if f"{PROJECT}:{section}" in given.secret_keys
    ]
    secrets = secret_values(given.keys, secret_sections)
    return [masked(line, secrets) for rule in RULES for line in rule(given)]


def parse_stack_config(
    raw: Mapping[str, Any],
    stack: str,
    environ: Mapping[str, str],
    secret_keys: frozenset[str] = frozenset(),
    foreign: Mapping[str, bool] | None = None,
) -> StackConfig:
    """Parse the project's configuration (key -> string, as the CLI passes it) into StackConfig.

    `raw` holds the project's keys without the `sticky-sessions:` prefix; `foreign` the keys of
    other namespaces (key -> whether it is secret). Raises ConfigError listing every problem.
    """
    context = {"stack": stack, "environ": environ}
    sections, keys, problems = parse_sections(PROJECT, raw, SECTION_MODELS, context, secret_keys)
    problems += cross_section_problems(Given(sections, keys, secret_keys, foreign or {}, stack))
    if problems:
        raise ConfigError(problems)
    secret_sections = frozenset(s for s in SECTION_MODELS if f"{PROJECT}:{s}" in secret_keys)
    return StackConfig(stack=stack, secret_sections=secret_sections, **sections)


def _every_key() -> tuple[dict[str, Any], frozenset[str]]:
    from pulumi.runtime import config as runtime_config

    every_key = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return every_key, frozenset(k for k in every_key if runtime_config.is_config_secret(k))


def running_config(project: str) -> tuple[dict[str, Any], frozenset[str]]:
    """The running program's config for `project` (keys without the prefix), and its secret keys."""
    prefix = f"{project}:"
    every_key, secret_keys = _every_key()
    raw = {key[len(prefix) :]: value for key, value in every_key.items() if key.startswith(prefix)}
    return raw, secret_keys


def foreign_config(project: str) -> dict[str, bool]:
    """The running program's config keys of other namespaces, and whether each is secret."""
    every_key, secret_keys = _every_key()
    return {k: k in secret_keys for k in every_key if not k.startswith(f"{project}:")}


def load_stack_config() -> StackConfig:
    """Read the running stack's configuration; a bad value stops the program (ConfigError, a
    RunError: no traceback) before any resource is declared."""
    raw, secret_keys = running_config(PROJECT)
    config = parse_stack_config(
        raw, pulumi.get_stack(), os.environ, secret_keys, foreign_config(PROJECT)
    )
    for warning in controller_warnings(config) + https_warnings(config):
        pulumi.log.warn(warning)
    return config
