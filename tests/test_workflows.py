"""The CI/CD files, checked offline: valid against GitHub's workflow schema (check-jsonschema's
copy), clean under a security linter (zizmor), every action pinned to a commit, the test step the
README's command, least permissions, prod behind its environment, one operation per stack at a
time; and the comment the pull request gets, against a local stand-in for GitHub's API."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.ci.pr_comment import main as pr_comment
from tools.preview.diff_command import MARKER
from tools.preview.mocks import PROJECT_DIR

WORKFLOWS = PROJECT_DIR / ".github" / "workflows"
BIN = Path(sys.executable).parent
FILES = sorted(WORKFLOWS.glob("*.yml"))


def workflow(name: str) -> dict[str, Any]:
    # PyYAML reads `on:` as True (YAML 1.1); GitHub reads it as the key "on".
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for job in document["jobs"].values():
        yield from job.get("steps", [])


def test_every_workflow_is_valid_against_github_s_schema() -> None:
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *FILES],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(FILES) == 5


def test_the_security_linter_finds_nothing() -> None:
    result = subprocess.run(
        [BIN / "zizmor", "--offline", "--format", "json", WORKFLOWS],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and json.loads(result.stdout) == [], result.stdout


def test_every_action_is_pinned_to_a_full_commit_with_its_version_said() -> None:
    for path in FILES:
        for line in path.read_text().splitlines():
            if re.match(r"\s*(- )?uses:", line):
                assert re.search(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), (
                    f"{path.name}: {line.strip()}"
                )


def test_the_test_workflow_runs_the_readme_s_command_after_ci_s_packages() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    command = readme.split("<!-- test-command -->", 1)[1].split("```bash\n", 1)[1].split("\n```")[0]
    tests = workflow("tests.yml")
    runs = [step.get("run", "") for step in steps(tests)]
    assert runs[-1].strip() == command.strip()
    ci = (PROJECT_DIR / ".ci" / "run").read_text()
    packages = re.search(r'packages="([^"]+)"', ci)
    assert packages is not None and f"apt-get install -y -qq {packages.group(1)}" in runs[-2]
    assert set(tests["on"]) == {"push", "pull_request"}


def test_permissions_are_none_by_default_and_granted_per_job() -> None:
    for path in FILES:
        document = workflow(path.name)
        assert document["permissions"] == {}, path.name
        for name, job in document["jobs"].items():
            granted = job.get("permissions", {})
            assert granted.get("contents") == "read", f"{path.name}: {name}"
            assert set(granted.values()) <= {"read", "write"}
            writes = {scope for scope, level in granted.items() if level == "write"}
            assert writes <= ({"pull-requests"} if path.name == "preview-diff.yml" else set())


def test_the_workflows_a_pull_request_runs_without_credentials_hold_no_secret() -> None:
    for name in ("tests.yml", "preview-diff.yml"):
        assert "secrets." not in (WORKFLOWS / name).read_text(), name


def test_prod_deploys_after_dev_behind_its_environment_one_operation_per_stack() -> None:
    deploy = workflow("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    dev, prod = deploy["jobs"]["dev"], deploy["jobs"]["prod"]
    assert prod["needs"] == "dev" and prod["environment"] == "prod" and dev["environment"] == "dev"
    for stack, job in (("dev", dev), ("prod", prod)):
        assert job["concurrency"] == {"group": f"pulumi-{stack}", "cancel-in-progress": False}
        up = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
        assert up["with"]["command"] == "up" and up["with"]["stack-name"] == stack
        assert up["with"]["pulumi-version-file"] == ".pulumi.version"
        assert up["with"]["policyPacks"] == "policy"


def test_drift_is_checked_every_day_and_fails_on_any_change() -> None:
    drift = workflow("drift.yml")
    assert drift["on"]["schedule"][0]["cron"].endswith("* * *")
    job = drift["jobs"]["drift"]
    assert job["concurrency"]["group"] == "pulumi-${{ matrix.stack }}"  # with the deploys
    check = next(s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert check["with"]["command"] == "preview"
    assert check["with"]["refresh"] is True and check["with"]["expect-no-changes"] is True


def test_the_cli_version_is_pinned_once_to_one_with_both_s3_fixes() -> None:
    """3.245.0 to 3.255.x send checksum trailers third-party S3 refuses (pulumi#23478, #23764);
    3.256.0's fix broke others (#24219), fixed in 3.258.0 (pulumi#24292)."""
    version = (PROJECT_DIR / ".pulumi.version").read_text().strip()
    sdk = re.search(r"^pulumi==(\S+)$", (PROJECT_DIR / "requirements.txt").read_text(), re.M)
    assert sdk is not None and version == sdk.group(1)
    assert tuple(int(part) for part in version.split(".")) >= (3, 258, 0)
    for path in FILES:
        assert "pulumi-version:" not in path.read_text()  # only the file says which


# --- the pull request's comment, against a stand-in for GitHub's API -----------------------


class FakeGitHub(BaseHTTPRequestHandler):
    comments: list[dict[str, Any]]
    requests: list[tuple[str, str, str]]
    refuse: bool

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def do_GET(self) -> None:
        self.requests.append(("GET", self.path, self.headers["Authorization"]))
        page = int(re.search(r"[?&]page=(\d+)", self.path).group(1))  # type: ignore[union-attr]
        self._answer(200, self.comments[(page - 1) * 100 : page * 100])

    def do_POST(self) -> None:
        self.requests.append(("POST", self.path, self.headers["Authorization"]))
        if self.refuse:
            self._answer(403, {"message": "Resource not accessible by integration"})
            return
        comment = {"id": 1000 + len(self.comments), "body": self._body()["body"]}
        self.comments.append(comment)
        self._answer(201, comment)

    def do_PATCH(self) -> None:
        self.requests.append(("PATCH", self.path, self.headers["Authorization"]))
        number = int(self.path.rsplit("/", 1)[1])
        next(c for c in self.comments if c["id"] == number)["body"] = self._body()["body"]
        self._answer(200, {"id": number})

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def github() -> Iterator[tuple[type[FakeGitHub], dict[str, str]]]:
    handler = type("Handler", (FakeGitHub,), {"comments": [], "requests": [], "refuse": False})
    handler.comments.extend({"id": n, "body": f"a reviewer's comment {n}"} for n in range(150))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        "GITHUB_TOKEN": "ghs_secret-token-never-printed",
        "GITHUB_REPOSITORY": "acme/sticky-sessions",
        "PR_NUMBER": "42",
        "GITHUB_API_URL": f"http://127.0.0.1:{server.server_address[1]}",
    }
    yield handler, env
    server.shutdown()
    thread.join(timeout=5)


def test_the_diff_comment_is_made_once_then_updated(
    github: tuple[type[FakeGitHub], dict[str, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler, env = github
    diff = tmp_path / "diff.md"
    for summary in ("first push", "second push", "third push"):
        diff.write_text(f"{MARKER}\n### Offline preview\n\n**{summary}**\n")
        assert pr_comment([str(diff)], env) == 0
    ours = [c for c in handler.comments if c["body"].startswith(MARKER)]
    assert len(ours) == 1 and "third push" in ours[0]["body"]
    assert len(handler.comments) == 151  # nobody else's comment touched
    assert [method for method, _, _ in handler.requests].count("POST") == 1
    assert all(auth == "Bearer ghs_secret-token-never-printed" for _, _, auth in handler.requests)
    assert all(
        path.startswith("/repos/acme/sticky-sessions/issues/") for _, path, _ in handler.requests
    )
    assert "ghs_" not in "".join(capsys.readouterr())


def test_a_token_that_may_not_comment_is_said_and_not_an_error(
    github: tuple[type[FakeGitHub], dict[str, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler, env = github
    handler.refuse = True
    diff = tmp_path / "diff.md"
    diff.write_text(f"{MARKER}\nbody\n")
    assert pr_comment([str(diff)], env) == 0
    out, err = capsys.readouterr()
    assert "not allowed to comment" in out and "job summary" in out and "ghs_" not in out + err


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"GITHUB_TOKEN": ""}, "set GITHUB_TOKEN"),
        ({"PR_NUMBER": "42; rm -rf /"}, "PR_NUMBER"),
        ({"GITHUB_REPOSITORY": "no-slash"}, "GITHUB_REPOSITORY"),
        ({"GITHUB_API_URL": "http://127.0.0.1:9"}, "GET /repos/"),
    ],
)
def test_bad_settings_exit_2_in_one_line(
    github: tuple[type[FakeGitHub], dict[str, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    said: str,
) -> None:
    _, env = github
    diff = tmp_path / "diff.md"
    diff.write_text(f"{MARKER}\nbody\n")
    assert pr_comment([str(diff)], env | change) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.splitlines()) == 1 and "ghs_" not in err


def test_a_file_without_the_marker_is_refused(
    github: tuple[type[FakeGitHub], dict[str, str]], tmp_path: Path
) -> None:
    handler, env = github
    diff = tmp_path / "diff.md"
    diff.write_text("no marker: it could never be found again to update\n")
    assert pr_comment([str(diff)], env) == 2 and not handler.requests
