"""Pieces of Kubernetes object bodies that the app and the controllers share.

Written as the SDK's TypedDicts (snake_case keys, checked by mypy; the SDK sends them to the
engine in the API's camelCase). Helm values are plain YAML that nothing translates: the
controllers' values take these pieces through `as_helm_values`.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_kubernetes.apps.v1 import DeploymentStrategyArgsDict
from pulumi_kubernetes.core.v1 import TopologySpreadConstraintArgsDict

# A rollout starts a new pod before it stops an old one: never fewer than `replicas` ready.
NO_LOSS_ROLLOUT: DeploymentStrategyArgsDict = {
    "type": "RollingUpdate",
    "rolling_update": {"max_unavailable": 0, "max_surge": 1},
}

# Maps whose keys are the user's (labels), not field names: never renamed.
_VERBATIM = {"match_labels"}


SPREAD_TOPOLOGIES = ("topology.kubernetes.io/zone", "kubernetes.io/hostname")


def spread_over_zones_and_nodes(
    labels: dict[str, str], match_label_keys: list[str] | None = None
) -> list[TopologySpreadConstraintArgsDict]:
    """Pods of `labels` spread over availability zones, then over nodes; preferred, never left
    pending for it (on a single-zone cluster the zone constraint is met by every node)."""
    constraints: list[TopologySpreadConstraintArgsDict] = []
    for topology in SPREAD_TOPOLOGIES:
        constraint: TopologySpreadConstraintArgsDict = {
            "max_skew": 1,
            "topology_key": topology,
            "when_unsatisfiable": "ScheduleAnyway",
            "label_selector": {"match_labels": labels},
        }
        if match_label_keys:
            constraint["match_label_keys"] = match_label_keys
        constraints.append(constraint)
    return constraints


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda match: match.group(1).upper(), name)


def as_helm_values(piece: Any) -> Any:
    """A piece above as a chart's values take it: the Kubernetes API's camelCase field names."""
    if isinstance(piece, list):
        return [as_helm_values(item) for item in piece]
    if not isinstance(piece, dict):
        return piece
    return {
        _camel(key): value if key in _VERBATIM else as_helm_values(value)
        for key, value in piece.items()
    }
