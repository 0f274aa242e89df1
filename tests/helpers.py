"""What the tests share: the stacks, the controllers, the type tokens, and running the program."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import referencing
import yaml
from kubernetes_validate import utils as kubernetes_validate_utils
from pulumi.errors import RunError

from components.app import ANNOTATION_PREFIX
from configuration.base import PROJECT
from configuration.controllers import CONTROLLERS
from tools.check_affinity.client import Connection
from tools.check_affinity.watch import watch_sessions
from tools.check_affinity.watch_model import Watch
from tools.preview import helm
from tools.preview.mocks import PROJECT_DIR, run_program
from tools.preview.recorded import ProgramRun, Registration, manifest, plain

STACKS = ("dev", "prod")
CONTROLLER_NAMES = tuple(CONTROLLERS)

# Pulumi type tokens of what the program declares or reads.
KUBE = "ovh:CloudProject/kube:Kube"
NODE_POOL = "ovh:CloudProject/kubeNodePool:KubeNodePool"
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"
RELEASE = "kubernetes:helm.sh/v3:Release"
# The controllers' releases (components/ingress.py COMPONENT_NAMES): ingress-nginx's, Traefik's.
CONTROLLER_RELEASES = ("ingress-release", "ingress-traefik-release")
NGINX_RELEASE, TRAEFIK_RELEASE = CONTROLLER_RELEASES
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE = "kubernetes:core/v1:Service"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DISRUPTION_BUDGET = "kubernetes:policy/v1:PodDisruptionBudget"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
INGRESS_CLASS = "kubernetes:networking.k8s.io/v1:IngressClass"


def run_ok(
    overrides: Mapping[str, Any] | None = None, /, stack: str = "dev", **sections: Any
) -> ProgramRun:
    """Run a stack with `pulumi config set --path` style overrides: full keys in `overrides`,
    or `section=value` for `sticky-sessions:<section>`. It must succeed."""
    every = dict(overrides or {}) | {f"{PROJECT}:{key}": value for key, value in sections.items()}
    run = run_program(stack, every)
    assert run.error is None, run.error
    return run


def controller_release(run: ProgramRun) -> Registration:
    """The release of the one controller a stack without a migration installs."""
    [release] = [r for r in run.of_type(RELEASE) if r.name in CONTROLLER_RELEASES]
    return release


def controller_service(run: ProgramRun) -> Registration:
    """The controller Service the program reads (a stack without a migration)."""
    names = [name.replace("-release", "-controller-service") for name in CONTROLLER_RELEASES]
    [service] = [r for r in run.of_type(SERVICE) if r.name in names]
    return service


def refused(overrides: Mapping[str, Any], stack: str = "dev", **kwargs: Any) -> str:
    """Run a stack that must be refused as a configuration error before anything is declared;
    return the message."""
    run = run_program(stack, overrides, **kwargs)
    assert isinstance(run.error, RunError), run.error
    assert run.resources == [], "a refused configuration declared resources"
    return str(run.error)


# --- strict validation of every object, built-in kinds and cert-manager's ---------------------

DATA = Path(__file__).parent / "data"
CRDS = {
    ("cert-manager.io/v1", "ClusterIssuer"): DATA
    / "cert-manager-v1.21.1/crd-cert-manager.io_clusterissuers.yaml"
}


@functools.cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The openAPIV3Schema the API server checks a custom resource against."""
    crd = yaml.safe_load(CRDS[(api_version, kind)].read_text())
    version = api_version.split("/")[1]
    [served] = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return served["schema"]["openAPIV3Schema"]


def unknown_fields(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Fields the schema does not declare: the API server prunes them without a word."""
    found = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{path}.{key}")
            else:
                found += unknown_fields(item, schema["properties"][key], f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{index}]")
    return found


@functools.cache
def _kubernetes_validator(minor: str, kind: str, api_version: str) -> jsonschema.Validator:
    """kubernetes_validate.validate's strict schema for a kind, built once: the library reads
    and indexes its whole definitions file on every call (~12 ms; ~1.5 ms with this)."""
    utils = kubernetes_validate_utils
    version = [v for v in utils.all_versions() if utils.major_minor(v) <= minor][-1]
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"kubernetes-json-schema/v{version}-local-strict"
    schema = utils.schema_contents(f"{folder}/{kind.lower()}-{group_version}.json", minor)
    registry = referencing.Resource.from_contents(schema) @ _definitions(folder, minor)
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.cache
def _definitions(folder: str, minor: str) -> referencing.Registry[Any]:
    """The version's shared definitions (a large file), read once."""
    definitions = kubernetes_validate_utils.schema_contents(f"{folder}/_definitions.json", minor)
    return referencing.Resource.from_contents(definitions) @ referencing.Registry()


def validate_kubernetes(obj: dict[str, Any], kubernetes_version: str) -> None:
    """`kubernetes_validate.validate(obj, version, strict=True)`, with its validators cached."""
    minor = kubernetes_validate_utils.major_minor(kubernetes_version)
    validator = _kubernetes_validator(minor, obj["kind"], obj["apiVersion"])
    try:
        validator.validate(obj)
    except jsonschema.ValidationError as error:
        raise kubernetes_validate.ValidationError(error, version=minor) from None


def validate_strictly(obj: dict[str, Any], kubernetes_version: str) -> None:
    """Built-in kinds against the cluster version's OpenAPI schema (kubernetes-validate), custom
    resources against their vendored CRD's schema, unknown fields refused either way."""
    key = (obj["apiVersion"], obj["kind"])
    if key not in CRDS:
        validate_kubernetes(obj, kubernetes_version)
        return
    schema = crd_schema(*key)
    jsonschema.validate(obj, schema)
    unknown = unknown_fields({k: v for k, v in obj.items() if k != "metadata"}, schema)
    if unknown:
        raise jsonschema.ValidationError(f"fields the CRD does not know: {unknown}")


# --- watching sessions through a change, event by event ------------------------------------------

Scenario = Callable[[Watch, Callable[[], float]], Awaitable[None]]
EVENT_LIMIT = 15.0  # seconds an awaited event may take before the test fails, on a busy machine


async def until(what: str, happened: Callable[[], bool]) -> None:
    """Wait for an event the watch can see; fail naming it if it never comes."""
    deadline = time.monotonic() + EVENT_LIMIT
    while not happened():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {EVENT_LIMIT:g} s")
        await asyncio.sleep(0.01)


async def every_session_pinned(watch: Watch) -> None:
    await until("every session pinned", lambda: all(s.first_pod for s in watch.sessions))


async def requests_after(watch: Watch, count: int) -> None:
    """Until every session has sent `count` more requests than it had now."""
    sent = [session.requests for session in watch.sessions]
    await until(
        f"{count} more requests of every session",
        lambda: all(
            s.requests >= before + count for s, before in zip(watch.sessions, sent, strict=True)
        ),
    )


async def changed(change: Callable[[], None]) -> None:
    """Make the change (HAProxy's runtime API; nginx reloaded until its new workers serve)."""
    await asyncio.get_running_loop().run_in_executor(None, change)


def watch_port(
    port: int,
    scenario: Scenario,
    sessions: int = 12,
    scheme: str = "http",
    tls: Connection | None = None,
) -> dict:
    """A watch of `sessions` sessions, one request every 0.05 s each, that ends when
    `scenario` has seen what it waits for."""
    result = asyncio.run(
        watch_sessions(
            f"{scheme}://127.0.0.1:{port}/", "stickounet", 4 * EVENT_LIMIT, sessions, 0.05,
            5.0, tls or Connection(), live=False, observe=scenario,
        )
    )  # fmt: skip
    report = result.as_json()
    assert report["interrupted"] is False
    return report


# --- the program's objects, as a controller reads them ------------------------------------------


def the_ingress(run: ProgramRun) -> dict[str, Any]:
    return manifest(run.one(INGRESS))


def with_annotations(ingress: Mapping[str, Any], **changes: str) -> dict[str, Any]:
    """The program's Ingress with annotations as another value would have set them."""
    copy = json.loads(json.dumps(ingress))
    for name, value in changes.items():
        copy["metadata"]["annotations"][ANNOTATION_PREFIX + name.replace("_", "-")] = value
    return copy


# --- the charts, rendered by Helm as the stack installs them -----------------------------

try:
    helm.find_helm()
    HELM_MISSING = None
except helm.HelmUnavailable as error:
    HELM_MISSING = str(error)
needs_helm = pytest.mark.skipif(HELM_MISSING is not None, reason=HELM_MISSING or "")


def rendered(
    run: ProgramRun, release: str, minor: str = "1.34", include_crds: bool = True
) -> list[dict[str, Any]]:
    return helm.render_release(plain(run.one(RELEASE, release).inputs), minor, include_crds)


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def project_copy(folder: Path) -> Path:
    """The program's files copied into `folder`, for tests that write stack files of their own."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, folder / name)
    shutil.copytree(PROJECT_DIR / "components", folder / "components")
    return folder
