"""The CLI's own encoding and Kubernetes quantities, as hostile rows through the offline preview
(tests/hostile_inputs_cli.py): a module of its own, so that it runs beside tests/test_hostile.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile_inputs_cli import CLI_ROWS
from tests.test_hostile import project as project  # the same copy of the project, per module
from tests.test_hostile import test_hostile_configuration as _row


@pytest.mark.parametrize(("config", "sets", "code", "key"), CLI_ROWS)
def test_cli_encoding_and_quantities(
    config: str | bytes,
    sets: list[str],
    code: int,
    key: str | None,
    project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _row(config, sets, code, key, project, tmp_path, capsys)


def test_each_class_has_ten_cases_or_more() -> None:
    assert len(CLI_ROWS) >= 30
