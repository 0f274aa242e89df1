"""Whole-program runs under the project's one mocks module (tools/offline.py)."""

import pytest

from tools.offline import ProgramRun, run_program

STACKS = ("dev", "prod")


@pytest.fixture(scope="session")
def dev() -> ProgramRun:
    run = run_program("dev")
    assert run.error is None, run.error
    return run


@pytest.fixture(scope="session")
def prod() -> ProgramRun:
    run = run_program("prod")
    assert run.error is None, run.error
    return run


CONTROLLERS = ("ingress-nginx", "traefik")


@pytest.fixture(
    scope="session",
    params=[(stack, controller) for controller in CONTROLLERS for stack in STACKS],
    ids=lambda p: p[0] if p[1] == "ingress-nginx" else f"{p[0]}-{p[1]}",
)
def stack_run(request: pytest.FixtureRequest) -> ProgramRun:
    """Each shipped stack, with each ingress controller."""
    stack, controller = request.param
    overrides = (
        {} if controller == "ingress-nginx" else {"sticky-sessions:ingress.controller": controller}
    )
    run = run_program(stack, overrides)
    assert run.error is None, run.error
    return run


def run_ok(**overrides: object) -> ProgramRun:
    """The dev stack with `pulumi config set --path` style overrides; it must succeed."""
    run = run_program("dev", {f"sticky-sessions:{k}": v for k, v in overrides.items()})
    assert run.error is None, run.error
    return run
