"""Everything the pinned charts render, as the stack installs them, validates strictly on every
supported Kubernetes version: each stack with each controller, and each switch of the ingress
section (split from test_charts.py so that the two run side by side)."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from configuration.cluster import SUPPORTED_KUBERNETES_VERSIONS
from tests.helpers import (
    RELEASE,
    by_kind,
    needs_helm,
    rendered,
    validate_kubernetes,
)
from tools.preview.recorded import ProgramRun

# --- everything rendered validates strictly, on every supported version -----------------------


@functools.cache
def _validated(obj_json: str, minor: str) -> None:
    """Each distinct object once per version (charts render many the same in every stack)."""
    validate_kubernetes(json.loads(obj_json), minor)


def validate(obj: dict[str, Any], minor: str) -> None:
    _validated(json.dumps(obj, sort_keys=True), minor)


@needs_helm
@pytest.mark.parametrize("minor", SUPPORTED_KUBERNETES_VERSIONS)
def test_every_rendered_object_validates_on_every_version(
    stack_run: ProgramRun, minor: str
) -> None:
    for release in stack_run.of_type(RELEASE):
        for obj in rendered(stack_run, release.name, minor, include_crds=False):
            validate(obj, minor)
        # The CRDs are the chart's crds/ files, whatever the version or values: rendered once,
        # each validated against this version's schema.
        for obj in by_kind(rendered(stack_run, release.name), "CustomResourceDefinition"):
            validate(obj, minor)
