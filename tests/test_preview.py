"""The offline preview: what it prints, what it writes, and how it fails."""

import json
from pathlib import Path

import pytest
import yaml

from configuration.cli import PLACEHOLDER_KUBECONFIG, PLACEHOLDER_SECRET
from tests.helpers import project_copy, validate_kubernetes
from tools.preview.command import OUTPUT_INDEX, main
from tools.preview.mocks import PROJECT_DIR, run_program
from tools.preview.recorded import kubernetes_objects, manifest

CIPHERTEXT = "v1:c2VjcmV0LWNpcGhlcnRleHQ="


def preview(capsys: pytest.CaptureFixture[str], *argv: str, **kwargs: object) -> tuple:
    code = main(list(argv), **kwargs)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prints_the_resource_tree_and_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = preview(capsys, "--stack", "dev")
    assert code == 0, err
    for expected in (
        "ovh:CloudProject/kube:Kube cluster-kube",
        "nodes: 1 <= 1 <= 2",
        "chart: ingress-nginx 4.15.1 from https://kubernetes.github.io/ingress-nginx",
        "replicas: 3",
        "image: ovhplatform/what-is-my-pod:1.0.1",
        "annotation nginx.ingress.kubernetes.io/session-cookie-name: stickounet",
        "waits for: ingress-ingress-class, ingress-release",
        "controller: k8s.io/ingress-nginx",
        "url: http://203.0.113.10",
        "kubeconfig: [secret]",
        "retired upstream",
    ):
        assert expected in out


def test_prod_shows_the_protected_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = preview(capsys, "--stack", "prod")
    assert code == 0
    assert "ovh:CloudProject/kube:Kube cluster-kube [protected]" in out


def test_written_manifests_validate_and_match_what_the_program_declared(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = preview(capsys, "--stack", "dev", "--out", str(tmp_path))
    assert code == 0, err
    written = sorted(tmp_path.glob("[0-9][0-9]-*.yaml"))
    declared = [manifest(r) for r in kubernetes_objects(run_program("dev"))]
    parsed = [yaml.safe_load(path.read_text()) for path in written]
    assert sorted(map(json.dumps, parsed)) == sorted(map(json.dumps, declared))
    for obj in parsed:
        validate_kubernetes(obj, "1.34")
    kinds = [obj["kind"] for obj in parsed]
    assert kinds[0] == "Namespace" and kinds[-1] == "Ingress"  # `ls` order is apply order


def test_helm_values_carry_chart_repo_and_version(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert preview(capsys, "--out", str(tmp_path))[0] == 0
    text = (tmp_path / "values-ingress-nginx.yaml").read_text()
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any(
        "ingress-nginx" in h and "4.15.1" in h and "kubernetes.github.io" in h for h in header
    )
    assert yaml.safe_load(text)["controller"]["allowSnippetAnnotations"] is False
    graph = (tmp_path / "graph.md").read_text()
    assert "```mermaid" in graph and "-->" in graph


def test_out_twice_leaves_no_stale_file_and_keeps_foreign_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    args = ("--out", str(tmp_path), "--set", "sticky-sessions:app.namespace=sticky")
    assert preview(capsys, *args)[0] == 0
    assert any("namespace-sticky" in p.name for p in tmp_path.iterdir())
    assert preview(capsys, "--out", str(tmp_path))[0] == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert not any("sticky" in name for name in names)
    assert "notes.txt" in names
    assert set((tmp_path / OUTPUT_INDEX).read_text().split()) == names - {"notes.txt", OUTPUT_INDEX}


def test_json_document_lists_resources_and_masks_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = preview(capsys, "--json")
    assert code == 0
    document = json.loads(out)
    assert document["outputs"]["kubeconfig"] == "[secret]"
    assert document["secretOutputs"] == ["kubeconfig"]
    ingress = next(r for r in document["resources"] if r["name"] == "app-ingress")
    release = next(r for r in document["resources"] if r["name"] == "ingress-release")
    assert release["urn"] in ingress["dependencies"]
    assert ingress["parent"].endswith("::app")
    assert ingress["inputs"]["spec"]["ingressClassName"] == "nginx"


@pytest.fixture
def project_with_secrets(tmp_path: Path) -> Path:
    """A copy of the project whose stack holds encrypted values, as `--secret` writes them."""
    project_copy(tmp_path)
    stack = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    stack["config"]["ovh:applicationSecret"] = {"secure": CIPHERTEXT}
    (tmp_path / "Pulumi.secret.yaml").write_text(yaml.safe_dump(stack))
    return tmp_path


def test_no_secret_reaches_stdout_json_or_files(
    capsys: pytest.CaptureFixture[str], project_with_secrets: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    texts = []
    for extra in ((), ("--json",), ("--out", str(out_dir))):
        code, out, err = preview(
            capsys, "--stack", "secret", *extra, project_dir=project_with_secrets
        )
        assert code == 0, err
        texts += [out, err]
    texts += [p.read_text() for p in out_dir.iterdir()]
    everything = "\n".join(texts)
    for secret in (CIPHERTEXT, PLACEHOLDER_SECRET, PLACEHOLDER_KUBECONFIG):
        assert secret not in everything
    assert "ovh:applicationSecret: [secret]" in texts[0]


@pytest.mark.parametrize(
    ("argument", "named"),
    [
        ("sticky-sessions:app.replicas=0", "sticky-sessions:app.replicas"),
        ("sticky-sessions:app.replicaz=2", "sticky-sessions:app.replicaz"),
        ("sticky-sessions:affinity.sameSite=Relaxed", "sticky-sessions:affinity.sameSite"),
        ("no-equals-sign", "no-equals-sign"),
        ("nonamespace=3", "nonamespace"),
    ],
)
def test_bad_set_exits_2_naming_the_key(
    capsys: pytest.CaptureFixture[str], argument: str, named: str
) -> None:
    code, out, err = preview(capsys, "--set", argument)
    assert code == 2
    assert named in err
    assert "Traceback" not in err and out == ""


def test_set_values_are_json_when_they_parse_and_strings_otherwise(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = preview(
        capsys,
        "--json",
        "--set",
        "sticky-sessions:app.replicas=5",
        "--set",
        "sticky-sessions:affinity.sameSite=Lax",
    )
    assert code == 0, err
    resources = json.loads(out)["resources"]
    deployment = next(r for r in resources if r["name"] == "app-deployment")
    ingress = next(r for r in resources if r["name"] == "app-ingress")
    assert deployment["inputs"]["spec"]["replicas"] == 5
    annotations = ingress["inputs"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-samesite"] == "Lax"


def test_unknown_stack_names_the_stacks_that_exist(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = preview(capsys, "--stack", "staging")
    assert code == 1
    assert "Pulumi.staging.yaml" in err and "dev, prod" in err


def test_unknown_argument_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = preview(capsys, "--stacks", "dev")
    assert code == 2 and "--stacks" in err


def test_a_failing_program_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str], project_with_secrets: Path
) -> None:
    (project_with_secrets / "__main__.py").write_text("raise RuntimeError('boom')\n")
    code, _, err = preview(capsys, "--stack", "secret", project_dir=project_with_secrets)
    assert code == 1
    assert err.strip() == "preview: the program failed: boom"


def test_says_when_it_stands_in_for_the_ovhcloud_project_id(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OVH_CLOUD_PROJECT_SERVICE", raising=False)
    assert main([]) == 0
    assert "Note: no OVHcloud project id in OVH_CLOUD_PROJECT_SERVICE" in capsys.readouterr().out
    monkeypatch.setenv("OVH_CLOUD_PROJECT_SERVICE", "f" * 32)
    assert main([]) == 0
    assert "Note:" not in capsys.readouterr().out


def test_the_preview_says_which_settings_replace_a_pool_or_the_cluster(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--stack", "prod"]) == 0
    out = capsys.readouterr().out
    [cluster] = [line for line in out.splitlines() if "replaced by a change of" in line]
    assert "cluster.region" in cluster and "cluster.serviceName" in cluster
    assert "cluster.version" not in cluster  # an upgrade in place
    pools = [line for line in out.splitlines() if "the new pool first" in line]
    assert len(pools) == 3 and all("nodePool.flavor" in line for line in pools)
    assert not any("nodePool.desiredNodes" in line for line in pools)


# --- what the charts install, rendered with Helm -----------------------------------------------


@pytest.fixture
def needs_helm() -> None:
    from tools.preview import helm

    try:
        helm.find_helm()
    except helm.HelmUnavailable as error:
        pytest.skip(str(error))


def test_the_tree_shows_what_each_release_installs(
    needs_helm: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "~ Deployment ingress-nginx/ingress-nginx-controller (rendered by Helm)" in out
    assert "~ Service ingress-nginx/ingress-nginx-controller (rendered by Helm)" in out
    assert "type: LoadBalancer" in out
    assert "18 objects rendered by Helm" in out.splitlines()[-1]


def test_out_writes_the_rendered_objects_in_apply_order(
    needs_helm: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "--stack",
                "dev",
                "--set",
                "sticky-sessions:ingress.controller=traefik",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    files = sorted(p.name for p in tmp_path.glob("helm-traefik-*.yaml"))
    assert len(files) == 30
    kinds = [yaml.safe_load((tmp_path / f).read_text())["kind"] for f in files]
    assert kinds[:25] == ["CustomResourceDefinition"] * 25  # definitions first
    for name in files:
        validate_kubernetes(yaml.safe_load((tmp_path / name).read_text()), "1.34")


def test_json_includes_what_each_release_renders(
    needs_helm: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--stack", "prod", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document["rendered"]) == {"ingress-nginx", "cert-manager"}
    assert len(document["rendered"]["ingress-nginx"]) == 19


def test_a_chart_version_that_is_not_vendored_is_a_note_not_a_failure(
    needs_helm: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--set", "sticky-sessions:ingress.chartVersion=4.15.0"]) == 0
    out = capsys.readouterr().out
    assert (
        "Note: release ingress-nginx is not rendered: chart ingress-nginx 4.15.0 is not vendored"
        in out
    )
    assert "0 objects rendered by Helm" in out


def test_without_helm_the_preview_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tools.preview import helm

    def missing() -> Path:
        raise helm.HelmUnavailable(
            "no Helm binary: run `venv/bin/python -m tools.preview.helm install`"
        )

    monkeypatch.setattr(helm, "find_helm", missing)
    assert main(["--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert (
        "Note: the charts are not rendered: no Helm binary: run "
        "`venv/bin/python -m tools.preview.helm install`" in out
    )


def test_the_preview_leaves_no_unclosed_event_loop_behind() -> None:
    """Python's development mode reports every event loop collected unclosed (the mock
    monitor's executor threads each get one); none may be left (#24: no noise on any path)."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-X", "dev", "-m", "tools.preview", "--stack", "dev", "--json"],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-1000:]
    assert "unclosed event loop" not in result.stderr
    assert "Exception ignored" not in result.stderr
