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


@pytest.fixture(scope="session", params=STACKS)
def stack_run(request: pytest.FixtureRequest) -> ProgramRun:
    run = run_program(request.param)
    assert run.error is None, run.error
    return run


def run_ok(**overrides: object) -> ProgramRun:
    """The dev stack with `pulumi config set --path` style overrides; it must succeed."""
    run = run_program("dev", {f"sticky-sessions:{k}": v for k, v in overrides.items()})
    assert run.error is None, run.error
    return run
