"""Pinned dependencies agree with each other, so a fresh install is the tested one."""

import re

import pytest
import yaml

from tools.preview.mocks import PROJECT_DIR


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


def test_the_policy_pack_holds_what_pulumi_install_needs() -> None:
    # `cd policy && pulumi install` reads PulumiPolicy.yaml's runtime and installs
    # requirements.txt into the virtualenv it names (git ignores it).
    pack = yaml.safe_load((PROJECT_DIR / "policy/PulumiPolicy.yaml").read_text())
    assert pack["runtime"]["name"] == "python"
    assert pack["runtime"]["options"] == {"toolchain": "pip", "virtualenv": "venv"}
    assert "pulumi-policy" in pins("policy/requirements.txt")
    assert "venv/" in (PROJECT_DIR / ".gitignore").read_text().splitlines()


def test_the_editable_install_of_the_consumer_leaves_the_work_tree_clean() -> None:
    # `pip install -e ../..` (examples/consumer) writes sticky_sessions.egg-info/ here.
    assert "*.egg-info/" in (PROJECT_DIR / ".gitignore").read_text().splitlines()
