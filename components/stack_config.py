"""Read the running stack's configuration once, as the CLI passes it, into a StackConfig."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pulumi

from components.config import SECTION_MODELS, StackConfig
from components.config_base import PROJECT
from components.config_errors import ConfigError, parse_sections
from components.config_rules import Given, controller_warnings, cross_section_problems


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
    problems += cross_section_problems(Given(sections, keys, secret_keys, foreign or {}))
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
    for warning in controller_warnings(config):
        pulumi.log.warn(warning)
    return config
