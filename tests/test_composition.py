"""Stack composition: cluster modes, parts that can be switched off, the outputs contract."""

import gc
import logging

import pytest
from pulumi.errors import RunError

from configuration.cli import PLACEHOLDER_KUBECONFIG
from tests.helpers import controller_service, refused, run_ok
from tools.preview.mocks import (
    LOAD_BALANCER_IP,
    PROJECT_DIR,
    REFERENCED_STACK_OUTPUTS,
    _run_program,
    run_program,
)
from tools.preview.recorded import ProgramRun

SHARED = "acme/sticky-sessions/shared"
SECURE_KUBECONFIG = {"secure": "v1:ZW5jcnlwdGVkLWt1YmVjb25maWc="}  # as `--secret` stores it

EXISTING = {
    "sticky-sessions:cluster": {"mode": "existing", "kubeconfig": SECURE_KUBECONFIG},
    "sticky-sessions:nodePool": {},
}
FROM_STACK = {
    "sticky-sessions:cluster": {"mode": "stack", "stack": SHARED},
    "sticky-sessions:nodePool": {},
}
APP_OFF = {"sticky-sessions:app": {"enabled": False}, "sticky-sessions:affinity": {}}
INGRESS_OFF = {"sticky-sessions:ingress": {"enabled": False}}

CLUSTER_OUTPUTS = {"kubeconfig", "clusterId", "clusterName", "region", "kubernetesVersion"}
# servedBy is in both: the app's URL and the controllers' address are the serving controller's.
INGRESS_OUTPUTS = {"ingressClassName", "loadBalancerAddress", "migration", "servedBy"}
APP_OUTPUTS = {"url", "appNamespace", "cookieName", "servedBy"}

# The contract other stacks read: output names per mode and part. Changing it is deliberate.
CONTRACT = {
    "create": ({}, CLUSTER_OUTPUTS | INGRESS_OUTPUTS | APP_OUTPUTS),
    "existing": (
        EXISTING,
        {"kubeconfig", "clusterId", "clusterName"} | INGRESS_OUTPUTS | APP_OUTPUTS,
    ),
    "stack": (FROM_STACK, CLUSTER_OUTPUTS | INGRESS_OUTPUTS | APP_OUTPUTS),
    "create, https on a host": (
        {
            "sticky-sessions:app.host": "sticky.example.com",
            "sticky-sessions:tls": {"enabled": True, "email": "ops@example.com"},
        },
        CLUSTER_OUTPUTS | INGRESS_OUTPUTS | APP_OUTPUTS | {"host", "dnsRecord"},
    ),
    "create, API restricted": (
        {"sticky-sessions:cluster.apiAllowedCidrs": ["203.0.113.7/32"]},
        CLUSTER_OUTPUTS | INGRESS_OUTPUTS | APP_OUTPUTS | {"apiAllowedCidrs"},
    ),
    "create, app off": (APP_OFF, CLUSTER_OUTPUTS | INGRESS_OUTPUTS),
    "create, Traefik side by side": (
        {"sticky-sessions:ingress": {"controller": "traefik", "migration": "side-by-side"}},
        CLUSTER_OUTPUTS | INGRESS_OUTPUTS | APP_OUTPUTS | {"migrationTestAddress"},
    ),
    "stack, ingress off": (FROM_STACK | INGRESS_OFF, CLUSTER_OUTPUTS | APP_OUTPUTS),
    "existing, both off": (
        EXISTING | INGRESS_OFF | APP_OFF,
        {"kubeconfig", "clusterId", "clusterName"},
    ),
}


@pytest.mark.parametrize(("overrides", "names"), CONTRACT.values(), ids=CONTRACT.keys())
def test_output_names_and_secrecy_per_mode(overrides: dict, names: set[str]) -> None:
    result = run_ok(overrides)
    assert set(result.outputs) == names
    assert result.secret_outputs == {"kubeconfig"}
    assert all(value is not None and value != "" for value in result.outputs.values())


def _types(result: ProgramRun) -> set[str]:
    return {r.type for r in result.resources}


def test_existing_mode_creates_nothing_on_ovhcloud_and_keeps_the_kubeconfig_secret() -> None:
    result = run_ok(EXISTING)
    assert not any(t.startswith("ovh:") for t in _types(result))
    provider = result.one("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert provider.inputs["clusterIdentifier"] == "https://203.0.113.20:6443"  # the API server
    assert result.outputs["kubeconfig"] == PLACEHOLDER_KUBECONFIG
    assert result.outputs["clusterName"] == "offline-cluster"


def test_stack_mode_reads_the_cluster_from_the_owning_stack() -> None:
    result = run_ok(FROM_STACK)
    assert not any(t.startswith("ovh:") for t in _types(result))
    reference = result.one("pulumi:pulumi:StackReference")
    assert reference.inputs["name"] == SHARED
    provider = result.one("pulumi:providers:kubernetes")
    assert provider.inputs["clusterIdentifier"] == REFERENCED_STACK_OUTPUTS["clusterId"]
    for key in ("clusterId", "clusterName", "region", "kubernetesVersion"):
        assert result.outputs[key] == REFERENCED_STACK_OUTPUTS[key]


def test_a_referenced_stack_without_kubeconfig_is_a_clear_error() -> None:
    outputs = {k: v for k, v in REFERENCED_STACK_OUTPUTS.items() if k != "kubeconfig"}
    result = run_program("dev", FROM_STACK, stack_outputs={SHARED: outputs})
    assert isinstance(result.error, RunError)
    message = str(result.error)
    assert "sticky-sessions:cluster.stack" in message and SHARED in message
    assert "`kubeconfig` output" in message and "PULUMI_CONFIG_PASSPHRASE" in message


def test_a_referenced_stack_without_cluster_id_is_identified_by_its_name() -> None:
    outputs = {"kubeconfig": PLACEHOLDER_KUBECONFIG}
    result = run_program("dev", FROM_STACK, stack_outputs={SHARED: outputs})
    assert result.error is None, result.error
    assert result.one("pulumi:providers:kubernetes").inputs["clusterIdentifier"] == SHARED


def test_app_off_owns_only_the_cluster_and_the_controller() -> None:
    result = run_ok(APP_OFF)
    assert "kubernetes:apps/v1:Deployment" not in _types(result)
    assert "kubernetes:helm.sh/v3:Release" in _types(result)


def test_ingress_off_uses_the_controller_another_stack_installed() -> None:
    result = run_ok(FROM_STACK | INGRESS_OFF)
    assert "kubernetes:helm.sh/v3:Release" not in _types(result)
    lookup = controller_service(result)
    assert lookup.read and lookup.id == "ingress-nginx/ingress-nginx-controller"
    ingress = result.one("kubernetes:networking.k8s.io/v1:Ingress")
    assert ingress.inputs["spec"]["ingressClassName"] == "nginx"
    assert result.outputs["url"] == f"http://{LOAD_BALANCER_IP}"
    assert not any("retired upstream" in w for w in result.warnings())  # not installed here


def test_no_controller_is_read_when_no_app_needs_one() -> None:
    result = run_ok(EXISTING | INGRESS_OFF | APP_OFF)
    assert [r.type for r in result.resources if r.type.startswith("kubernetes:")] == []


# Each row: what it proves, the overrides, the key the message must name.
MISFITS = [
    (
        "kubeconfig in create mode",
        {"sticky-sessions:cluster.kubeconfig": SECURE_KUBECONFIG},
        "cluster.kubeconfig",
    ),
    ("stack in create mode", {"sticky-sessions:cluster.stack": SHARED}, "cluster.stack"),
    (
        "node pool in existing mode",
        {"sticky-sessions:cluster": EXISTING["sticky-sessions:cluster"]},
        "nodePool.desiredNodes",
    ),
    (
        "region in existing mode",
        {**EXISTING, "sticky-sessions:cluster.region": "GRA9"},
        "cluster.region",
    ),
    (
        "protect in stack mode",
        {**FROM_STACK, "sticky-sessions:cluster.protect": True},
        "cluster.protect",
    ),
    (
        "kubeconfig in stack mode",
        {**FROM_STACK, "sticky-sessions:cluster.kubeconfig": SECURE_KUBECONFIG},
        "cluster.kubeconfig",
    ),
    (
        "existing without kubeconfig",
        {"sticky-sessions:cluster": {"mode": "existing"}, "sticky-sessions:nodePool": {}},
        "cluster.kubeconfig",
    ),
    (
        "stack without stack",
        {"sticky-sessions:cluster": {"mode": "stack"}, "sticky-sessions:nodePool": {}},
        "cluster.stack",
    ),
    (
        "stack name shape",
        {**FROM_STACK, "sticky-sessions:cluster.stack": "shared"},
        "cluster.stack",
    ),
    ("mode unknown", {"sticky-sessions:cluster.mode": "borrow"}, "cluster.mode"),
    (
        "plain-text kubeconfig",
        {**EXISTING, "sticky-sessions:cluster.kubeconfig": PLACEHOLDER_KUBECONFIG},
        "cluster.kubeconfig",
    ),
    (
        "not a kubeconfig",
        {
            **EXISTING,
            "sticky-sessions:cluster.kubeconfig": {"secure": "v1:eA=="},
            "sticky-sessions:cluster.stack": None,
        },
        "cluster",
    ),
    (
        "chart with ingress off",
        {**INGRESS_OFF, "sticky-sessions:ingress.chartVersion": "4.15.1"},
        "ingress.chartVersion",
    ),
    (
        "affinity with app off",
        {**APP_OFF, "sticky-sessions:affinity.cookieName": "x"},
        "affinity.cookieName",
    ),
    ("replicas with app off", {**APP_OFF, "sticky-sessions:app.replicas": 3}, "app.replicas"),
]


@pytest.mark.parametrize(
    ("overrides", "key"), [m[1:] for m in MISFITS], ids=[m[0] for m in MISFITS]
)
def test_settings_that_make_no_sense_in_a_mode_are_errors(overrides: dict, key: str) -> None:
    message = refused(overrides)
    assert any(key in line and "Fix:" in line for line in message.splitlines())


def test_error_messages_never_quote_a_kubeconfig() -> None:
    overrides = {**EXISTING, "sticky-sessions:cluster.kubeconfig": PLACEHOLDER_KUBECONFIG}
    message = refused(overrides)
    assert "offline-placeholder-not-a-credential" not in message
    assert "--secret" in message


def test_a_failed_run_says_its_error_once_and_nothing_when_collected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The outputs and log tasks that depended on the failure hold the same error: neither the
    run nor collecting them logs 'exception was never retrieved' (#24: no noise on any path).
    The run is not the session's remembered one, so that nothing keeps it."""
    outputs = {k: v for k, v in REFERENCED_STACK_OUTPUTS.items() if k != "kubeconfig"}
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        run = _run_program("dev", FROM_STACK, None, PROJECT_DIR, {SHARED: outputs})
        assert isinstance(run.error, RunError)
        del run
        gc.collect()
    noise = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert not noise, noise[:2]
