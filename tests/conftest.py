"""Fixtures: whole-program runs under the project's one mocks module (tools/preview/mocks.py)."""

from collections.abc import Iterator

import pytest

from tests.helpers import CONTROLLER_NAMES, STACKS, run_ok
from tools.preview.mocks import remembered_runs
from tools.preview.recorded import ProgramRun


@pytest.fixture(scope="session", autouse=True)
def one_run_per_configuration() -> Iterator[None]:
    """The same configuration declares the same resources: run it once per session."""
    with remembered_runs():
        yield


@pytest.fixture(scope="session")
def dev() -> ProgramRun:
    return run_ok(stack="dev")


@pytest.fixture(scope="session")
def prod() -> ProgramRun:
    return run_ok(stack="prod")


@pytest.fixture(
    scope="session",
    params=[(stack, controller) for controller in CONTROLLER_NAMES for stack in STACKS],
    ids=lambda p: p[0] if p[1] == "ingress-nginx" else f"{p[0]}-{p[1]}",
)
def stack_run(request: pytest.FixtureRequest) -> ProgramRun:
    """Each shipped stack, with each ingress controller."""
    stack, controller = request.param
    overrides = (
        {} if controller == "ingress-nginx" else {"sticky-sessions:ingress.controller": controller}
    )
    return run_ok(overrides, stack=stack)
