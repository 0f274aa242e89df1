"""A container's requests and memory limit, as a config model shared by the app and controllers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from configuration.base import Section
from configuration.errors import model_problem

if TYPE_CHECKING:  # the models load without the Kubernetes SDK (tools/check_affinity imports them)
    from pulumi_kubernetes.core.v1 import ResourceRequirementsArgsDict


CPU_QUANTITY = r"^([1-9][0-9]*m|[0-9]+(\.[0-9]{1,3})?)$"
# With a unit: a bare number means bytes, which no container runs in.
MEMORY_QUANTITY = r"^[1-9][0-9]*(Ki|Mi|Gi|Ti|k|M|G|T)$"
_MEMORY_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_MEMORY_UNITS |= {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (as MEMORY_QUANTITY accepts it) in bytes."""
    number = re.match(r"^[0-9]+", quantity)
    assert number is not None, quantity
    return int(number.group(0)) * _MEMORY_UNITS[quantity[number.end() :]]


class ResourceRequests(Section):
    cpu: str = Field(pattern=CPU_QUANTITY, description="a CPU quantity such as 50m or 0.5")
    memory: str = Field(
        pattern=MEMORY_QUANTITY, description="a memory quantity with its unit, such as 64Mi or 1Gi"
    )


class ResourceLimits(Section):
    memory: str | None = Field(
        default=None,
        pattern=MEMORY_QUANTITY,
        description="a memory quantity with its unit, such as 128Mi",
    )


class Resources(Section):
    """A container's requests and memory limit; no CPU limit (it throttles, it does not protect)."""

    requests: ResourceRequests
    limits: ResourceLimits = Field(default_factory=ResourceLimits)

    def kubernetes_spec(self) -> ResourceRequirementsArgsDict:
        """As a container's `resources` field."""
        spec: ResourceRequirementsArgsDict = {"requests": self.requests.model_dump()}
        if self.limits.memory is not None:
            spec["limits"] = {"memory": self.limits.memory}
        return spec

    @model_validator(mode="after")
    def _limit_covers_request(self) -> Resources:
        limit = self.limits.memory
        if limit is not None and memory_bytes(limit) < memory_bytes(self.requests.memory):
            raise model_problem(
                "the memory limit must cover the memory request, got {got}",
                key="limits.memory",
                got=f"limit {limit} < request {self.requests.memory}",
            )
        return self


# Defaults: what-is-my-pod is a small Go server; the controller's requests are the chart's own,
# with the memory limit the chart leaves out (without one a leak can starve the node); the
# admission Jobs and cert-manager's containers are small one-purpose processes.
APP_RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}
CONTROLLER_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "90Mi"},
    "limits": {"memory": "512Mi"},
}
JOB_RESOURCES = {"requests": {"cpu": "10m", "memory": "20Mi"}, "limits": {"memory": "64Mi"}}
CERT_MANAGER_RESOURCES = {
    "requests": {"cpu": "10m", "memory": "64Mi"},
    "limits": {"memory": "256Mi"},
}


def over_defaults(defaults: dict[str, dict[str, str]]) -> Any:
    """Set fields replace the defaults one by one: `resources.limits.memory` alone keeps the
    default requests."""

    def merge(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        merged: dict[str, Any] = {key: dict(part) for key, part in defaults.items()}
        for key, part in value.items():
            merged[key] = {**merged.get(key, {}), **part} if isinstance(part, dict) else part
        return merged

    return merge
