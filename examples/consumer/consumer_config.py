"""The consumer's configuration, parsed with the sticky-sessions models and messages."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import pulumi

from configuration.base import STACK_NAME
from configuration.errors import ConfigError, parse_sections
from configuration.running import running_config
from configuration.sections import AffinityConfig, AppConfig

PROJECT = "sticky-consumer"


@dataclass(frozen=True)
class ConsumerConfig:
    platform: str  # <org>/sticky-sessions/<stack>
    app: AppConfig
    affinity: AffinityConfig


def parse_consumer_config(
    raw: dict[str, str], stack: str, secret_keys: frozenset[str] = frozenset()
) -> ConsumerConfig:
    context = {"stack": stack, "environ": os.environ}
    models = {"app": AppConfig, "affinity": AffinityConfig}
    sections, _, problems = parse_sections(
        PROJECT, raw, models, context, secret_keys, other_keys=["platform"]
    )
    platform = raw.get("platform", "")
    if not re.match(STACK_NAME, platform):
        problems.append(
            f"{PROJECT}:platform: got {platform!r}; expected the sticky-sessions stack as "
            f"<organization>/<project>/<stack>. Fix: pulumi config set {PROJECT}:platform "
            "organization/sticky-sessions/dev"
        )
    if problems:
        raise ConfigError(problems)
    return ConsumerConfig(platform=platform, **sections)


def load_consumer_config() -> ConsumerConfig:
    raw, secret_keys = running_config(PROJECT)
    return parse_consumer_config(raw, pulumi.get_stack(), secret_keys)
