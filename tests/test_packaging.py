"""Pinned dependencies agree with each other, so a fresh install is the tested one."""

import re

import pytest

from tools.offline import PROJECT_DIR


def pins(name: str) -> dict[str, str]:
    found = {}
    for line in (PROJECT_DIR / name).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", line.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


@pytest.mark.parametrize(
    "requirements", ["requirements.txt", "requirements-dev.txt", "policy/requirements.txt"]
)
def test_every_pin_is_exact_and_matches_the_constraints(requirements: str) -> None:
    text = (PROJECT_DIR / requirements).read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith(("#", "-"))]
    assert lines and all("==" in line for line in lines), lines  # no ranges, no bare names
    locked = pins("constraints.txt")
    for package, version in pins(requirements).items():
        assert locked.get(package) == version, package
