"""`python -m tools.preview --diff BASE`: what a change does, on real pairs of previews (dev and
prod, ingress-nginx and Traefik, a replica change, a chart version bump, a secret changed, a
commit of a repository), in text, JSON and Markdown, with secrets never shown."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import project_copy
from tools.preview.charts import render_run
from tools.preview.command import document, main
from tools.preview.diff import compare
from tools.preview.diff_command import MARKDOWN_LIMIT, MARKER, render_markdown
from tools.preview.mocks import PROJECT_DIR, run_program

CIPHERTEXTS = ("v1:Zmlyc3QtY2lwaGVydGV4dA==", "v1:c2Vjb25kLWNpcGhlcnRleHQ=")


def run(capsys: pytest.CaptureFixture[str], *argv: str, **kwargs: Any) -> tuple[int, str, str]:
    code = main(list(argv), **kwargs)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def dev_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dev stack's preview document, saved once for the module (rendering takes a while)."""
    run = run_program("dev")
    path = tmp_path_factory.mktemp("base") / "dev.json"
    path.write_text(json.dumps(document(run, render_run(run))))
    return path


def saved(capsys: pytest.CaptureFixture[str], folder: Path, *argv: str, **kwargs: Any) -> Path:
    code, out, err = run(capsys, *argv, "--json", **kwargs)
    assert code == 0, err
    path = folder / "base.json"
    path.write_text(out)
    return path


def changes(capsys: pytest.CaptureFixture[str], base: Path, *argv: str, **kwargs: Any) -> dict:
    code, out, err = run(capsys, *argv, "--diff", str(base), "--json", **kwargs)
    document = json.loads(out)
    assert code == document["exitCode"], err
    return document


def change(document: dict, label: str) -> dict:
    return next(c for c in document["changes"] if c["label"] == label)


def fields(found: dict) -> dict[str, tuple]:
    return {f["path"]: (f["old"], f["new"]) for f in found["fields"]}


def test_the_same_stack_twice_is_no_change(
    capsys: pytest.CaptureFixture[str], dev_json: Path
) -> None:
    base = dev_json
    code, out, _ = run(capsys, "--stack", "dev", "--diff", str(base))
    assert code == 0 and "No change against" in out


def test_a_replica_change_is_the_deployment_s_replicas_and_nothing_else(
    capsys: pytest.CaptureFixture[str], dev_json: Path
) -> None:
    base = dev_json
    diff = changes(capsys, base, "--stack", "dev", "--set", "sticky-sessions:app.replicas=5")
    assert diff["exitCode"] == 1
    assert {(c["section"], c["label"]) for c in diff["changes"]} == {
        ("config", "sticky-sessions:app.replicas"),
        ("resources", "kubernetes:apps/v1:Deployment app-deployment"),
    }
    deployment = change(diff, "kubernetes:apps/v1:Deployment app-deployment")
    assert deployment["action"] == "update" and fields(deployment) == {"spec.replicas": (3, 5)}


def test_dev_against_prod_shows_the_cluster_replaced_and_the_controller_s_replicas(
    capsys: pytest.CaptureFixture[str], dev_json: Path
) -> None:
    base = dev_json
    diff = changes(capsys, base, "--stack", "prod")
    kube = change(diff, "ovh:CloudProject/kube:Kube cluster-kube")
    assert kube["action"] == "replace"
    assert {"region", "privateNetworkId", "nodesSubnetId"} <= set(kube["replacedBy"])
    assert fields(kube)["region"] == ("GRA9", "EU-WEST-PAR")
    # Inside the ingress-nginx release: the controller Deployment's replicas.
    controller = change(diff, "ingress-nginx: Deployment ingress-nginx/ingress-nginx-controller")
    assert fields(controller) == {"spec.replicas": (1, 3)}
    pools = {c["label"]: c["action"] for c in diff["changes"] if "KubeNodePool" in c["label"]}
    assert pools["ovh:CloudProject/kubeNodePool:KubeNodePool cluster-node-pool"] == "remove"
    assert list(pools.values()).count("add") == 3
    added = {c["label"] for c in diff["changes"] if c["action"] == "add"}
    assert "cert-manager: Deployment cert-manager/cert-manager" in added


def test_moving_to_traefik_removes_ingress_nginx_s_objects_and_adds_traefik_s(
    capsys: pytest.CaptureFixture[str], dev_json: Path
) -> None:
    base = dev_json
    diff = changes(
        capsys, base, "--stack", "dev", "--set", "sticky-sessions:ingress.controller=traefik"
    )
    # Traefik's release takes ingress-nginx's state through its alias; another name and
    # namespace make it another Helm release: the engine replaces it (the old one first).
    release = change(diff, "kubernetes:helm.sh/v3:Release ingress-traefik-release")
    assert release["action"] == "replace" and release["replacedBy"] == ["name", "namespace"]
    assert "was ingress-release: an alias keeps its state" in release["notes"]
    assert fields(release)["chart"] == ("ingress-nginx", "traefik")
    removed = {c["label"] for c in diff["changes"] if c["action"] == "remove"}
    added = {c["label"] for c in diff["changes"] if c["action"] == "add"}
    assert "ingress-nginx: Deployment ingress-nginx/ingress-nginx-controller" in removed
    assert any(label.startswith("traefik: Deployment ") for label in added)


def test_a_chart_version_bump_shows_in_the_release_and_in_what_it_renders(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The base is the same preview as if the release had pinned 4.15.0 (its version, and the
    image and chart label that version renders)."""
    head = json.loads(run(capsys, "--stack", "dev", "--json")[1])
    base = copy.deepcopy(head)
    release = next(r for r in base["resources"] if r["name"] == "ingress-release")
    release["inputs"]["version"] = "4.15.0"
    controller = next(o for o in base["rendered"]["ingress-nginx"] if o["kind"] == "Deployment")
    controller["metadata"]["labels"]["helm.sh/chart"] = "ingress-nginx-4.15.0"
    container = controller["spec"]["template"]["spec"]["containers"][0]
    image = container["image"]
    container["image"] = image.replace("v1.15.1", "v1.15.0")
    diff = compare(base, head, "4.15.0", "4.15.1")
    release_change = next(c for c in diff.changes if c.label.endswith("ingress-release"))
    assert [(f.path, f.old, f.new) for f in release_change.fields] == [
        ("version", "4.15.0", "4.15.1")
    ]
    rendered = next(c for c in diff.changes if c.section == "objects")
    assert {f.path: f.new for f in rendered.fields} == {
        "metadata.labels.helm.sh/chart": "ingress-nginx-4.15.1",
        "spec.template.spec.containers[0].image": image,
    }


@pytest.fixture
def secret_stacks(tmp_path: Path) -> Path:
    """A copy of the project with two stacks whose encrypted OVHcloud secret differs."""
    project_copy(tmp_path)
    stack = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    for name, ciphertext in zip(("one", "two"), CIPHERTEXTS, strict=True):
        stack["config"]["ovh:applicationSecret"] = {"secure": ciphertext}
        (tmp_path / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(stack))
    return tmp_path


def test_a_changed_secret_is_said_to_change_and_never_shown(
    capsys: pytest.CaptureFixture[str], secret_stacks: Path, tmp_path: Path
) -> None:
    base = saved(capsys, tmp_path, "--stack", "one", project_dir=secret_stacks)
    texts = []
    for output in ((), ("--json",), ("--markdown",)):
        code, out, err = run(
            capsys, "--stack", "two", "--diff", str(base), *output, project_dir=secret_stacks
        )
        assert code == 1, err
        texts.append(out + err)
    assert "secret: its encrypted value changed" in texts[0]
    assert "ovh:applicationSecret" in texts[0]
    for text in texts:
        assert not any(ciphertext in text for ciphertext in CIPHERTEXTS)
        assert "offline-placeholder" not in text
    # The same secret on both sides is no change.
    code, out, _ = run(capsys, "--stack", "one", "--diff", str(base), project_dir=secret_stacks)
    assert code == 0


def test_a_secret_s_data_in_a_rendered_object_is_masked() -> None:
    def with_secret(value: str) -> dict:
        secret = {"kind": "Secret", "metadata": {"name": "s", "namespace": "n"},
                  "data": {"token": value}}  # fmt: skip
        return {"stack": "dev", "config": {}, "resources": [], "rendered": {"r": [secret]}}

    diff = compare(with_secret("c2VjcmV0LW9uZQ=="), with_secret("c2VjcmV0LXR3bw=="), "a", "b")
    (found,) = diff.changes
    (field,) = found.fields
    assert field.path == "data.token" and field.old != field.new
    assert "c2Vj" not in f"{field.old}{field.new}" and str(field.new).startswith("[secret]")


def test_the_markdown_comment_has_its_summary_first_and_stays_bounded(
    capsys: pytest.CaptureFixture[str], dev_json: Path
) -> None:
    base = dev_json
    code, out, _ = run(capsys, "--stack", "prod", "--diff", str(base), "--markdown")
    lines = out.splitlines()
    assert code == 1 and lines[0] == MARKER and lines[3].startswith("**Against ")
    assert "| Resources |" in out and out.count("```") % 2 == 0
    # A diff far longer than a comment is cut where a line ends, its fences closed.
    huge = json.loads(base.read_text())
    for resource in huge["resources"]:
        resource["inputs"]["padding"] = ["x" * 150] * 60
    document = render_markdown(compare(json.loads(base.read_text()), huge, "base", "padded"))
    assert len(document) <= MARKDOWN_LIMIT and document.count("```") % 2 == 0
    assert "Cut here" in document


@pytest.mark.parametrize(
    ("base", "said"),
    [
        ("no-such-ref-or-file", "is neither a file nor a commit"),
        ("Pulumi.yaml", "not a JSON document"),
        ("pyproject.toml", "not a JSON document"),
    ],
)
def test_what_cannot_be_compared_exits_2_in_one_line(
    capsys: pytest.CaptureFixture[str], base: str, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(PROJECT_DIR)
    code, out, err = run(capsys, "--diff", base)
    assert code == 2 and out == "" and said in err and len(err.splitlines()) == 1


def test_a_json_document_that_is_not_a_preview_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"hello": "world"}')
    code, _, err = run(capsys, "--diff", str(other))
    assert code == 2 and "is not a preview document" in err


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_commit_is_previewed_from_its_own_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A repository whose last commit had 3 app replicas and whose working tree has 4: the
    diff against HEAD previews HEAD's files (the program, the stack file) and shows the change."""
    repository = tmp_path / "repository"
    archive = subprocess.run(
        [
            "git",
            "-C",
            str(PROJECT_DIR),
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
        capture_output=True,
        check=True,
    )
    for name in archive.stdout.decode().split("\0"):
        if name and (PROJECT_DIR / name).is_file():
            (repository / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_DIR / name, repository / name)
    git = ["git", "-C", str(repository), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    if (PROJECT_DIR / ".cache").is_dir():  # Helm, as the README's install put it
        (repository / ".cache").symlink_to(PROJECT_DIR / ".cache")
    stack_file = repository / "Pulumi.dev.yaml"
    stack = yaml.safe_load(stack_file.read_text())
    stack["config"]["sticky-sessions:app"] = {"replicas": 4}
    stack_file.write_text(yaml.safe_dump(stack))
    code, out, err = run(capsys, "--diff", "HEAD", "--json", project_dir=repository)
    assert code == 1, err
    diff = json.loads(out)
    assert diff["base"] == "HEAD (stack dev)"
    deployment = change(diff, "kubernetes:apps/v1:Deployment app-deployment")
    assert fields(deployment) == {"spec.replicas": (3, 4)}
