"""A container's requests and memory limit, as a config model shared by the app and controllers."""

from __future__ import annotations

import math
import re
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from configuration.base import Section
from configuration.errors import model_problem

if TYPE_CHECKING:  # the models load without the Kubernetes SDK (tools/check_affinity imports them)
    from pulumi_kubernetes.core.v1 import ResourceRequirementsArgsDict


# Kubernetes' quantity grammar (apimachinery's resource.Quantity): a decimal number (`1`, `1.5`,
# `.5`, `5.`) and a suffix. A CPU is cores or millicores (`m`); `pulumi config set --path
# ...cpu 1` can only store an integer, and Kubernetes takes a number there too.
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
CPU_QUANTITY = rf"^{_NUMBER}(m|[eE][+-]?[0-9]+)?$"  # cores, millicores, or cores x 10^n
# With a unit: a bare number means bytes, which no container runs in.
MEMORY_QUANTITY = rf"^{_NUMBER}(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)$"
_MEMORY_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_MEMORY_UNITS |= {"E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_MEMORY_UNITS |= {"Pi": 2**50, "Ei": 2**60}


def memory_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity (as MEMORY_QUANTITY accepts it) in bytes, rounded up as
    Kubernetes rounds a fraction of a byte."""
    number = re.match(_NUMBER, quantity)
    assert number is not None, quantity
    exact = Decimal(number.group(0)) * _MEMORY_UNITS[quantity[number.end() :]]
    return int(exact.to_integral_value(rounding=ROUND_CEILING))


def _number_as_quantity(value: Any) -> Any:
    """A YAML or JSON number (the CLI stores `cpu 1` as an integer) as the quantity it writes."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return value
    return format(Decimal(repr(value)).normalize(), "f")


def _more_than_zero(value: str | None) -> str | None:
    if value is not None and not re.search(r"[1-9]", value.lower().split("e")[0].rstrip("kmgtpi")):
        raise ValueError("zero asks for nothing: give a quantity above 0")
    return value


class ResourceRequests(Section):
    cpu: Annotated[str, BeforeValidator(_number_as_quantity), AfterValidator(_more_than_zero)] = (
        Field(
            pattern=CPU_QUANTITY,
            description="a CPU quantity such as 50m, 0.5 or 1",
        )
    )
    memory: Annotated[str, AfterValidator(_more_than_zero)] = Field(
        pattern=MEMORY_QUANTITY,
        description="a memory quantity with its unit, such as 64Mi, 1Gi or 1.5Gi",
    )


class ResourceLimits(Section):
    memory: Annotated[str | None, AfterValidator(_more_than_zero)] = Field(
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
