"""The what-is-my-pod app: the tutorial's manifests, the cookie annotations, the dependencies."""

import pytest

from components.app import ANNOTATION_PREFIX, ingress_annotations
from configuration.sections import AffinityConfig
from tests.helpers import (
    DEPLOYMENT,
    DISRUPTION_BUDGET,
    INGRESS,
    NAMESPACE,
    SERVICE,
    controller_release,
    run_ok,
)
from tools.preview.mocks import LOAD_BALANCER_IP
from tools.preview.recorded import ProgramRun, manifest

# The tutorial's ingress-session-affinity.yml annotations, verbatim.
TUTORIAL_ANNOTATIONS = {
    "nginx.ingress.kubernetes.io/affinity": "cookie",
    "nginx.ingress.kubernetes.io/session-cookie-name": "stickounet",
    "nginx.ingress.kubernetes.io/session-cookie-expires": "172800",
    "nginx.ingress.kubernetes.io/session-cookie-max-age": "172800",
}


def test_deployment_is_the_tutorials(dev: ProgramRun) -> None:
    deployment = manifest(dev.one(DEPLOYMENT))
    assert deployment["metadata"]["name"] == "what-is-my-pod-deployment"
    assert deployment["metadata"]["labels"] == {"app": "what-is-my-pod"}
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    assert spec["selector"] == {"matchLabels": {"app": "what-is-my-pod"}}
    assert spec["template"]["metadata"]["labels"] == {"app": "what-is-my-pod"}
    [container] = spec["template"]["spec"]["containers"]
    assert container["name"] == "what-is-my-pod"
    assert container["image"] == "ovhplatform/what-is-my-pod:1.0.1"
    assert container["ports"] == [{"name": "http", "containerPort": 8080}]
    assert container["env"] == [
        {"name": "MY_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    ]


def test_service_is_the_tutorials(dev: ProgramRun) -> None:
    service = manifest(dev.one(SERVICE, "app-service"))
    assert service["metadata"]["name"] == "what-is-my-pod"
    assert service["metadata"]["namespace"] == "default"
    assert service["metadata"]["labels"] == {"app": "what-is-my-pod"}
    assert service["spec"] == {"ports": [{"port": 8080}], "selector": {"app": "what-is-my-pod"}}


def test_ingress_carries_the_tutorials_annotations_and_a_class_name(dev: ProgramRun) -> None:
    ingress = manifest(dev.one(INGRESS))
    annotations = ingress["metadata"]["annotations"]
    assert TUTORIAL_ANNOTATIONS.items() <= annotations.items()
    assert "kubernetes.io/ingress.class" not in annotations  # deprecated: spec.ingressClassName
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["rules"] == [
        {
            "http": {
                "paths": [
                    {
                        "path": "/",
                        "pathType": "Prefix",
                        "backend": {
                            "service": {"name": "what-is-my-pod", "port": {"number": 8080}}
                        },
                    }
                ]
            }
        }
    ]


def test_ingress_waits_for_the_controller_release(stack_run: ProgramRun) -> None:
    assert controller_release(stack_run).urn in stack_run.one(INGRESS).dependencies


def test_deployment_and_service_deploy_in_parallel_with_the_controller(
    stack_run: ProgramRun,
) -> None:
    release = controller_release(stack_run).urn
    assert release not in stack_run.one(DEPLOYMENT).dependencies
    assert release not in stack_run.one(SERVICE, "app-service").dependencies


def test_prod_runs_more_replicas_with_a_persistent_lax_cookie(prod: ProgramRun) -> None:
    assert manifest(prod.one(DEPLOYMENT))["spec"]["replicas"] >= 3
    annotations = manifest(prod.one(INGRESS))["metadata"]["annotations"]
    assert annotations[ANNOTATION_PREFIX + "affinity-mode"] == "persistent"
    assert annotations[ANNOTATION_PREFIX + "session-cookie-samesite"] == "Lax"


def test_app_config_reaches_every_manifest() -> None:
    run = run_ok(
        app={
            "name": "echo",
            "namespace": "sticky",
            "image": "registry.example.com/echo@sha256:" + "a" * 64,
            "replicas": 5,
            "port": 9000,
            "host": "sticky.example.com",
        }
    )
    namespace = manifest(run.one(NAMESPACE, "app-namespace"))
    assert namespace["metadata"]["name"] == "sticky"
    deployment = manifest(run.one(DEPLOYMENT))
    assert deployment["metadata"] == {
        "name": "echo-deployment",
        "namespace": "sticky",
        "labels": {"app": "echo"},
    }
    assert deployment["spec"]["replicas"] == 5
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"].endswith("@sha256:" + "a" * 64)
    assert container["ports"] == [{"name": "http", "containerPort": 9000}]
    service = manifest(run.one(SERVICE, "app-service"))
    assert service["spec"]["ports"] == [{"port": 9000}]
    [rule] = manifest(run.one(INGRESS))["spec"]["rules"]
    assert rule["host"] == "sticky.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {
        "name": "echo",
        "port": {"number": 9000},
    }
    assert run.outputs["url"] == "http://sticky.example.com"
    assert run.outputs["appNamespace"] == "sticky"


def test_default_namespace_is_not_declared_by_the_app(dev: ProgramRun) -> None:
    names = [manifest(r)["metadata"]["name"] for r in dev.of_type(NAMESPACE)]
    assert names == ["ingress-nginx"]


def test_affinity_config_reaches_the_annotations() -> None:
    run = run_ok(
        app={"path": "/shop"},
        affinity={
            "cookieName": "route",
            "expires": 60,
            "maxAge": 3600,
            "path": "/shop",
            "sameSite": "strict",
            "secure": False,
            "mode": "persistent",
            "changeOnFailure": True,
        },
    )
    annotations = manifest(run.one(INGRESS))["metadata"]["annotations"]
    expected = {
        "affinity": "cookie",
        "affinity-mode": "persistent",
        "session-cookie-name": "route",
        "session-cookie-expires": "60",
        "session-cookie-max-age": "3600",
        "session-cookie-path": "/shop",
        "session-cookie-samesite": "Strict",
        "session-cookie-secure": "false",
        "session-cookie-change-on-failure": "true",
    }
    assert annotations == {ANNOTATION_PREFIX + k: v for k, v in expected.items()}
    assert run.outputs["cookieName"] == "route"


def test_no_samesite_annotation_unless_configured() -> None:
    annotations = ingress_annotations(AffinityConfig())
    assert ANNOTATION_PREFIX + "session-cookie-samesite" not in annotations
    assert all(isinstance(value, str) for value in annotations.values())


@pytest.mark.parametrize(
    ("host", "url"),
    [(None, f"http://{LOAD_BALANCER_IP}"), ("a.example.com", "http://a.example.com")],
)
def test_url_uses_the_host_when_there_is_one(host: str | None, url: str) -> None:
    run = run_ok(app={"host": host} if host else {})
    assert run.outputs["url"] == url


# --- production hardening -------------------------------------------------------------------


def _pod(run: ProgramRun) -> tuple[dict, dict]:
    spec = manifest(run.one(DEPLOYMENT))["spec"]["template"]["spec"]
    return spec, spec["containers"][0]


def test_app_runs_with_least_privilege(stack_run: ProgramRun) -> None:
    pod, container = _pod(stack_run)
    assert pod["automountServiceAccountToken"] is False
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] >= 1 and security["runAsGroup"] >= 1  # explicit: image may be root
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def test_app_declares_requests_and_a_memory_limit(stack_run: ProgramRun) -> None:
    _, container = _pod(stack_run)
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert set(container["resources"]["limits"]) == {"memory"}  # no CPU limit: it throttles


def test_resources_come_from_config_field_by_field() -> None:
    run = run_ok(app={"resources": {"limits": {"memory": "256Mi"}}})
    _, container = _pod(run)
    assert container["resources"] == {
        "requests": {"cpu": "10m", "memory": "16Mi"},
        "limits": {"memory": "256Mi"},
    }


def test_probes_check_the_http_port(stack_run: ProgramRun) -> None:
    _, container = _pod(stack_run)
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/", "port": "http"}


def test_rollouts_never_go_below_the_desired_replicas(stack_run: ProgramRun) -> None:
    spec = manifest(stack_run.one(DEPLOYMENT))["spec"]
    assert spec["strategy"]["type"] == "RollingUpdate"
    rolling = spec["strategy"]["rollingUpdate"]
    # Ready pods never drop below `replicas`: a new pod starts before an old one stops.
    assert rolling["maxUnavailable"] == 0 and rolling["maxSurge"] >= 1


def test_pods_spread_over_nodes_and_a_budget_limits_evictions(stack_run: ProgramRun) -> None:
    pod, container = _pod(stack_run)
    spreads = {spread["topologyKey"]: spread for spread in pod["topologySpreadConstraints"]}
    assert set(spreads) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for spread in spreads.values():
        assert spread["labelSelector"] == {"matchLabels": {"app": "what-is-my-pod"}}
        assert spread["whenUnsatisfiable"] == "ScheduleAnyway"  # never pending for it
    budget = manifest(stack_run.one(DISRUPTION_BUDGET))
    assert budget["spec"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app": "what-is-my-pod"}},
    }
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
