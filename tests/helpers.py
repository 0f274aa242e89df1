"""What the tests share: the stacks, the controllers, the type tokens, and running the program."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.errors import RunError

from components.config_base import PROJECT
from components.controllers import CONTROLLERS
from tools.offline import ProgramRun, run_program

STACKS = ("dev", "prod")
CONTROLLER_NAMES = tuple(CONTROLLERS)

# Pulumi type tokens of what the program declares or reads.
KUBE = "ovh:CloudProject/kube:Kube"
NODE_POOL = "ovh:CloudProject/kubeNodePool:KubeNodePool"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE = "kubernetes:core/v1:Service"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DISRUPTION_BUDGET = "kubernetes:policy/v1:PodDisruptionBudget"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
INGRESS_CLASS = "kubernetes:networking.k8s.io/v1:IngressClass"


def run_ok(
    overrides: Mapping[str, Any] | None = None, /, stack: str = "dev", **sections: Any
) -> ProgramRun:
    """Run a stack with `pulumi config set --path` style overrides: full keys in `overrides`,
    or `section=value` for `sticky-sessions:<section>`. It must succeed."""
    every = dict(overrides or {}) | {f"{PROJECT}:{key}": value for key, value in sections.items()}
    run = run_program(stack, every)
    assert run.error is None, run.error
    return run


def refused(overrides: Mapping[str, Any], stack: str = "dev", **kwargs: Any) -> str:
    """Run a stack that must be refused as a configuration error before anything is declared;
    return the message."""
    run = run_program(stack, overrides, **kwargs)
    assert isinstance(run.error, RunError), run.error
    assert run.resources == [], "a refused configuration declared resources"
    return str(run.error)
