"""The pinned charts rendered with Helm as the stack installs them: what they put in the cluster
validates strictly, holds the facts the program relies on, and obeys the project's policies."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from configuration.controllers import CONTROLLERS
from configuration.https import CERT_MANAGER_CHART
from policy import rules
from tests.helpers import (
    RELEASE,
    TRAEFIK_RELEASE,
    by_kind,
    controller_release,
    controller_service,
    needs_helm,
    rendered,
    run_ok,
)
from tools.preview import helm
from tools.preview.recorded import ProgramRun

# --- the vendored charts are the pinned ones ----------------------------------------------------

PINNED = {c.chart.name: c.chart.version for c in CONTROLLERS.values()} | {
    CERT_MANAGER_CHART.name: CERT_MANAGER_CHART.version
}


@pytest.mark.parametrize(("name", "version"), PINNED.items())
def test_each_vendored_chart_is_the_pinned_version_with_its_recorded_digest(
    name: str, version: str
) -> None:
    path = helm.vendored_chart(name, version)
    assert helm.chart_metadata(path)["version"] == version
    assert hashlib.sha256(path.read_bytes()).hexdigest() == helm.recorded_digests()[path.name]


def test_a_chart_version_that_is_not_vendored_is_named() -> None:
    with pytest.raises(helm.ChartNotVendored, match=r"ingress-nginx 4\.15\.0"):
        helm.vendored_chart("ingress-nginx", "4.15.0")


def test_kubernetes_versions_report_the_api_versions_they_serve() -> None:
    versions = helm.api_versions("1.34")
    assert "policy/v1/PodDisruptionBudget" in versions and "policy/v1beta1" not in versions


# --- the facts the program relies on, on the rendered output -------------------------------------


@needs_helm
def test_the_controller_service_is_the_one_the_program_reads(stack_run: ProgramRun) -> None:
    objects = rendered(stack_run, controller_release(stack_run).name)
    lookup = controller_service(stack_run)
    namespace, name = lookup.id.split("/")
    [service] = [o for o in by_kind(objects, "Service") if o["metadata"]["name"] == name]
    assert service["metadata"]["namespace"] == namespace
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["externalTrafficPolicy"] == "Cluster"


@needs_helm
def test_proxy_protocol_reaches_the_service_and_the_controller_configmap() -> None:
    run = run_ok({"sticky-sessions:ingress.proxyProtocol": True})
    objects = rendered(run, controller_release(run).name)
    [service] = [
        o
        for o in by_kind(objects, "Service")
        if o["metadata"]["name"] == "ingress-nginx-controller"
    ]
    annotations = service["metadata"]["annotations"]
    assert annotations["loadbalancer.openstack.org/proxy-protocol"] == "true"
    [config] = by_kind(objects, "ConfigMap")
    assert config["data"]["use-proxy-protocol"] == "true"


@needs_helm
def test_ingress_nginx_renders_its_admission_webhook_and_a_prod_budget(
    dev: ProgramRun, prod: ProgramRun
) -> None:
    dev_objects, prod_objects = (
        rendered(dev, controller_release(dev).name),
        rendered(prod, controller_release(prod).name),
    )
    assert by_kind(dev_objects, "ValidatingWebhookConfiguration")
    assert len(by_kind(dev_objects, "Job")) == 2  # the admission certificate Jobs
    assert not by_kind(dev_objects, "PodDisruptionBudget")  # one replica: no budget to block
    [budget] = by_kind(prod_objects, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    [deployment] = by_kind(prod_objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    topologies = {
        c["topologyKey"]
        for c in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    }
    assert topologies == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


@needs_helm
def test_traefik_serves_the_nginx_class_and_publishes_its_service(prod: ProgramRun) -> None:
    run = run_ok({"sticky-sessions:ingress.controller": "traefik"}, stack="prod")
    objects = rendered(run, controller_release(run).name)
    [deployment] = by_kind(objects, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--providers.kubernetesingressnginx.ingressClass=nginx" in args
    assert "--providers.kubernetesingressnginx.controllerClass=k8s.io/ingress-nginx" in args
    # The Service whose address the program reads, and the Ingress status gets.
    assert "--providers.kubernetesingressnginx.publishservice=traefik/traefik" in args
    [budget] = by_kind(objects, "PodDisruptionBudget")
    assert budget["apiVersion"] == "policy/v1"  # rendered for the cluster's API versions
    assert len(by_kind(objects, "CustomResourceDefinition")) == 25


# --- the project's policies hold on what the charts install --------------------------------------

OPTIONS = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def policy_violations(obj: dict[str, Any]) -> list[str]:
    group, _, version = obj["apiVersion"].rpartition("/")
    token = f"kubernetes:{group or 'core'}/{version}:{obj['kind']}"
    found: list[str] = []
    for policy in rules.POLICIES:
        if isinstance(policy, ResourceValidationPolicy):
            args = ResourceValidationArgs(
                token, unknown_checking_proxy(obj), "urn", obj["metadata"]["name"], OPTIONS, None
            )
            policy.validate(
                args, lambda message, _urn, p=policy: found.append(f"{p.name}: {message}")
            )
    return found


@needs_helm
def test_every_rendered_object_obeys_the_projects_policies(stack_run: ProgramRun) -> None:
    for release in stack_run.of_type(RELEASE):
        for obj in rendered(stack_run, release.name):
            assert policy_violations(obj) == [], f"{obj['kind']} {obj['metadata']['name']}"


@needs_helm
def test_the_policy_check_sees_a_chart_container_without_a_limit(dev: ProgramRun) -> None:
    [deployment] = by_kind(rendered(dev, controller_release(dev).name), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"].pop("limits")
    assert any("container-resources" in v for v in policy_violations(deployment))


@needs_helm
def test_what_each_chart_installs(dev: ProgramRun, prod: ProgramRun) -> None:
    # The tables of what each chart installs (docs/controllers.md) come from these counts.
    nginx = Counter(o["kind"] for o in rendered(dev, controller_release(dev).name))
    assert sum(nginx.values()) == 18 and nginx["CustomResourceDefinition"] == 0
    cert_manager = Counter(o["kind"] for o in rendered(prod, "cert-manager-release"))
    assert sum(cert_manager.values()) == 50 and cert_manager["CustomResourceDefinition"] == 6
    assert (cert_manager["ClusterRole"], cert_manager["ClusterRoleBinding"]) == (13, 10)
    traefik = Counter(
        o["kind"]
        for o in rendered(
            run_ok({"sticky-sessions:ingress.controller": "traefik"}), TRAEFIK_RELEASE
        )
    )
    assert sum(traefik.values()) == 30 and traefik["CustomResourceDefinition"] == 25
