"""Pieces of Kubernetes object bodies that the app and the controllers share."""

from __future__ import annotations

from pulumi_kubernetes.apps.v1 import DeploymentStrategyArgsDict
from pulumi_kubernetes.core.v1 import TopologySpreadConstraintArgsDict

# A rollout starts a new pod before it stops an old one: never fewer than `replicas` ready.
NO_LOSS_ROLLOUT: DeploymentStrategyArgsDict = {
    "type": "RollingUpdate",
    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
}


def spread_over_nodes(
    labels: dict[str, str], match_label_keys: list[str] | None = None
) -> list[TopologySpreadConstraintArgsDict]:
    """Pods of `labels` spread over nodes, preferred (never left pending for it)."""
    constraint: TopologySpreadConstraintArgsDict = {
        "maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": labels},
    }
    if match_label_keys:
        constraint["matchLabelKeys"] = match_label_keys
    return [constraint]
