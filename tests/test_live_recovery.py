"""If the live test's destroy fails, its user can still finish it: the commands say how."""

from pathlib import Path

from tests.integration.test_live import recovery_commands


def test_a_failed_destroy_prints_everything_needed_to_finish_it(tmp_path: Path) -> None:
    text = recovery_commands(tmp_path / "project", tmp_path / "state", "pass-phrase", "live-1")
    assert "NOT destroyed" in text and "billed" in text
    assert f"cd {tmp_path / 'project'}" in text
    assert f"PULUMI_BACKEND_URL=file://{tmp_path / 'state'}" in text
    assert "PULUMI_CONFIG_PASSPHRASE='pass-phrase'" in text
    assert "pulumi destroy --stack live-1 --yes" in text
