"""The consumer example under the project's mocks, with the platform stack's outputs mocked."""

from pathlib import Path

import pytest
from pulumi.errors import RunError

from configuration.cli import PLACEHOLDER_KUBECONFIG
from tools.preview.mocks import LOAD_BALANCER_IP, REFERENCED_STACK_OUTPUTS, run_program
from tools.preview.recorded import ProgramRun, manifest

CONSUMER_DIR = Path(__file__).resolve().parent.parent
PLATFORM = "organization/sticky-sessions/dev"


def consume(outputs: dict | None = None, overrides: dict | None = None) -> ProgramRun:
    return run_program(
        "dev",
        overrides,
        project_dir=CONSUMER_DIR,
        stack_outputs={PLATFORM: REFERENCED_STACK_OUTPUTS if outputs is None else outputs},
    )


@pytest.fixture(scope="module")
def consumer() -> ProgramRun:
    result = consume()
    assert result.error is None, result.error
    return result


def test_reads_the_platform_stack(consumer: ProgramRun) -> None:
    reference = consumer.one("pulumi:pulumi:StackReference")
    assert reference.inputs["name"] == PLATFORM
    provider = consumer.one("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"
    assert provider.inputs["clusterIdentifier"] == REFERENCED_STACK_OUTPUTS["clusterId"]


def test_deploys_the_shared_app_component_with_its_own_cookie_and_path(
    consumer: ProgramRun,
) -> None:
    assert consumer.one("sticky-sessions:index:StickyApp").name == "second-pod"
    deployment = manifest(consumer.one("kubernetes:apps/v1:Deployment"))
    assert deployment["metadata"]["name"] == "second-pod-deployment"
    assert deployment["spec"]["replicas"] == 2
    ingress = manifest(consumer.one("kubernetes:networking.k8s.io/v1:Ingress"))
    assert ingress["spec"]["ingressClassName"] == REFERENCED_STACK_OUTPUTS["ingressClassName"]
    [rule] = ingress["spec"]["rules"]
    assert rule["http"]["paths"][0]["path"] == "/second"
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-name"] == "second-sticky"
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-path"] == "/second"


def test_exports_the_app_outputs(consumer: ProgramRun) -> None:
    assert consumer.outputs == {
        "url": f"http://{LOAD_BALANCER_IP}/second",
        "appNamespace": "default",
        "cookieName": "second-sticky",
    }
    assert consumer.secret_outputs == frozenset()


def test_creates_no_cluster_and_no_controller(consumer: ProgramRun) -> None:
    types = {r.type for r in consumer.resources}
    assert not any(t.startswith("ovh:") for t in types)
    assert "kubernetes:helm.sh/v3:Release" not in types


def test_a_platform_without_a_load_balancer_address_fails_naming_it() -> None:
    outputs = {k: v for k, v in REFERENCED_STACK_OUTPUTS.items() if k != "loadBalancerAddress"}
    result = consume(outputs)
    assert result.error is not None
    assert "loadBalancerAddress" in str(result.error)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"sticky-consumer:platform": "dev"}, "sticky-consumer:platform"),
        ({"sticky-consumer:app.replicas": 0}, "sticky-consumer:app.replicas"),
        ({"sticky-consumer:affinity.cookieName": "a b"}, "sticky-consumer:affinity.cookieName"),
        ({"sticky-consumer:apps": {}}, "sticky-consumer:apps"),
    ],
    ids=["platform not a stack name", "replicas", "cookie name", "unknown key"],
)
def test_bad_configuration_names_the_consumer_key(overrides: dict, key: str) -> None:
    result = consume(overrides=overrides)
    assert isinstance(result.error, RunError)
    assert key in str(result.error)
    assert result.resources == []


def test_kubeconfig_never_reaches_an_output(consumer: ProgramRun) -> None:
    assert PLACEHOLDER_KUBECONFIG not in str(consumer.outputs)
