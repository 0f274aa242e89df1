"""Mistaken and hostile configuration, as a hurried user writes it: stack files and `--set`,
every section, every cluster mode, through the offline preview as the CLI would read them.

Each row asserts the exit code, the key the message names, that there is no traceback, and
that no secret marker appears in stdout, stderr, `--json` or any `--out` file. (The affinity
check's own hostile inputs are in tests/test_check_affinity_hostile.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import project_copy
from tests.hostile_inputs import MARKER, ROWS
from tools.preview.command import EXIT_FAILED, EXIT_INVALID, EXIT_OK, main


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return project_copy(tmp_path_factory.mktemp("project"))


def _preview(project: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv, project_dir=project)
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.parametrize(("config", "sets", "code", "key"), ROWS)
def test_hostile_configuration(
    config: str | bytes,
    sets: list[str],
    code: int,
    key: str | None,
    project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack_file = project / "Pulumi.t.yaml"
    body = config if isinstance(config, bytes) else ("config:\n" + config).encode()
    stack_file.write_bytes(body)
    argv = [
        "--stack",
        "t",
        "--out",
        str(tmp_path / "out"),
        *(a for s in sets for a in ("--set", s)),
    ]
    got, text = _preview(project, argv, capsys)
    got_json, json_text = _preview(project, [*argv[:2], "--json", *argv[4:]], capsys)
    assert (got, got_json) == (code, code), text
    assert "Traceback" not in text + json_text
    if key is not None:
        lines = [line for line in text.splitlines() if key in line]
        assert lines, text
        assert all(len(line) < 600 for line in text.splitlines()), "a message line is unbounded"
    written = (
        "".join(
            path.read_text(errors="replace")
            for path in (tmp_path / "out").glob("*")
            if path.is_file()
        )
        if (tmp_path / "out").is_dir()
        else ""
    )
    assert MARKER not in text + json_text + written


def test_the_table_covers_a_hundred_inputs() -> None:
    assert len(ROWS) >= 100


def test_a_missing_stack_is_named(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _preview(project, ["--stack", "nope"], capsys)
    assert code == EXIT_FAILED and "Pulumi.nope.yaml" in text and "Traceback" not in text


def test_a_pasted_zone_fix_works(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The message for a three-zone region without zones gives commands; pasted as --set, they
    # make a stack that deploys.
    (project / "Pulumi.t.yaml").write_text(
        "config:\n  sticky-sessions:cluster: {region: EU-WEST-PAR, plan: standard}\n"
        "  sticky-sessions:network: {mode: create}\n  sticky-sessions:ingress: {replicas: 3}\n"
    )
    code, text = _preview(project, ["--stack", "t"], capsys)
    assert code == EXIT_INVALID
    [fix] = [line.split("Fix: ", 1)[1] for line in text.splitlines() if "nodePool.zones" in line]
    sets = [
        command.removeprefix("pulumi config set --path ").replace("'", "").replace(" ", "=", 1)
        for command in fix.split(" && ")
    ]
    code, text = _preview(
        project, ["--stack", "t", *(a for s in sets for a in ("--set", s))], capsys
    )
    assert code == EXIT_OK, text
