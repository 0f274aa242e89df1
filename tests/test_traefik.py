"""Traefik as the maintained controller: the same Ingress, the same sticky cookie."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.controller_values import traefik_values
from configuration.sections import IngressConfig
from tests.helpers import (
    INGRESS,
    INGRESS_CLASS,
    controller_release,
    controller_service,
    refused,
    run_ok,
)
from tools.preview.command import main as preview
from tools.preview.mocks import LOAD_BALANCER_IP
from tools.preview.recorded import ProgramRun, manifest, plain

CHART_DATA = Path(__file__).parent / "data" / "traefik-41.3.0"


def traefik(**sections: object) -> ProgramRun:
    return run_ok(**{"ingress": {"controller": "traefik"}} | sections)


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads((CHART_DATA / "values.schema.json").read_text())


@pytest.fixture(scope="module")
def dev_traefik() -> ProgramRun:
    return traefik()


def test_vendored_chart_is_the_default_version() -> None:
    chart = yaml.safe_load((CHART_DATA / "Chart.yaml").read_text())
    config = IngressConfig(controller="traefik")
    assert chart["version"] == config.chart_version == "41.3.0"
    assert chart["appVersion"] == "v3.7.11"
    assert config.namespace == "traefik"


def test_release_is_named_traefik_and_pinned(dev_traefik: ProgramRun) -> None:
    release = controller_release(dev_traefik).inputs
    assert release["name"] == "traefik"
    assert release["chart"] == "traefik"
    assert release["version"] == "41.3.0"
    assert release["repositoryOpts"] == {"repo": "https://traefik.github.io/charts"}
    assert release["namespace"] == "traefik"
    namespace = dev_traefik.one("kubernetes:core/v1:Namespace")
    assert manifest(namespace)["metadata"]["name"] == "traefik"


@pytest.mark.parametrize(
    "ingress",
    [
        {"controller": "traefik"},
        {"controller": "traefik", "replicas": 3, "loadBalancerFlavor": "large"},
        {
            "controller": "traefik",
            "externalTrafficPolicy": "Local",
            "resources": {"limits": {"memory": "256Mi"}},
        },
    ],
    ids=["defaults", "replicas and flavor", "Local, memory limit"],
)
def test_values_satisfy_the_charts_schema(schema: dict, ingress: dict) -> None:
    jsonschema.validate(traefik_values(IngressConfig.model_validate(ingress)), schema)


def test_the_provider_spelling_is_the_charts(schema: dict) -> None:
    values = traefik_values(IngressConfig(controller="traefik"))
    provider = values["providers"]["kubernetesIngressNGINX"]
    assert provider["enabled"] is True
    assert provider["ingressClass"] == "nginx"
    assert provider["controllerClass"] == "k8s.io/ingress-nginx"
    assert provider["publishService"] == {"enabled": True}  # else the Ingress never gets status
    # The docs' Helm example spells it kubernetesIngressNginx: the chart's schema refuses that.
    misspelt = values | {"providers": {"kubernetesIngressNginx": provider}}
    with pytest.raises(jsonschema.ValidationError, match="kubernetesIngressNginx"):
        jsonschema.validate(misspelt, schema)


def test_hardened_values_match_the_ingress_nginx_release() -> None:
    run = traefik(**{"ingress": {"controller": "traefik", "replicas": 2}})
    values = plain(controller_release(run).inputs["values"])
    assert values["deployment"]["replicas"] == 2
    assert values["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    assert values["resources"]["requests"] == {"cpu": "100m", "memory": "90Mi"}
    assert values["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert values["ingressClass"] == {"enabled": False}  # no second, default IngressClass
    assert values["providers"]["kubernetesIngress"] == {"enabled": False}


def test_one_replica_gets_no_budget_that_would_block_drains(dev_traefik: ProgramRun) -> None:
    values = plain(controller_release(dev_traefik).inputs["values"])
    assert values["podDisruptionBudget"]["enabled"] is False


def test_the_program_owns_the_nginx_ingress_class_with_either_controller(
    stack_run: ProgramRun,
) -> None:
    ingress_class = stack_run.one(INGRESS_CLASS)
    assert ingress_class.name == "ingress-ingress-class"  # the same resource: a switch keeps it
    assert manifest(ingress_class)["metadata"]["name"] == "nginx"
    assert manifest(ingress_class)["spec"] == {"controller": "k8s.io/ingress-nginx"}
    ingress = stack_run.one(INGRESS)
    assert ingress_class.urn in ingress.dependencies
    assert controller_release(stack_run).urn in ingress.dependencies


def test_the_apps_ingress_is_the_same_with_either_controller(
    dev: ProgramRun, dev_traefik: ProgramRun
) -> None:
    assert manifest(dev.one(INGRESS)) == manifest(dev_traefik.one(INGRESS))


def test_controller_service_is_traefik_traefik_and_outputs_keep_their_names(
    dev: ProgramRun, dev_traefik: ProgramRun
) -> None:
    lookup = controller_service(dev_traefik)
    assert lookup.id == "traefik/traefik"
    assert set(dev_traefik.outputs) == set(dev.outputs)
    assert dev_traefik.outputs["url"] == f"http://{LOAD_BALANCER_IP}"


def test_no_retirement_warning_but_one_per_affinity_setting_traefik_cannot_honour() -> None:
    run = traefik(affinity={"mode": "balanced", "changeOnFailure": True})
    warnings = run.warnings()
    assert not any("retired upstream" in w for w in warnings)
    assert any("sticky-sessions:affinity.mode" in w and "persistent" in w for w in warnings)
    assert any("sticky-sessions:affinity.changeOnFailure" in w for w in warnings)
    assert traefik(affinity={"mode": "persistent"}).warnings() == []


def test_ingress_nginx_gets_no_traefik_warnings(dev: ProgramRun) -> None:
    assert not any("Traefik" in w for w in dev.warnings())


@pytest.mark.parametrize(
    ("setting", "key"),
    [({"metrics": False}, "metrics")],
)
def test_settings_traefik_cannot_take_are_refused(setting: dict, key: str) -> None:
    message = refused({"sticky-sessions:ingress": {"controller": "traefik"} | setting})
    assert f"sticky-sessions:ingress.{key}" in message


def test_ingress_off_finds_the_traefik_another_stack_installed() -> None:
    result = run_ok(
        cluster={"mode": "stack", "stack": "acme/sticky-sessions/shared"},
        nodePool={},
        ingress={"enabled": False, "controller": "traefik"},
    )
    assert controller_service(result).id == "traefik/traefik"


def test_the_offline_preview_shows_traefik(capsys: pytest.CaptureFixture[str]) -> None:
    assert preview(["--set", "sticky-sessions:ingress.controller=traefik"]) == 0
    out = capsys.readouterr().out
    assert "chart: traefik 41.3.0 from https://traefik.github.io/charts" in out
    assert "controller replicas: 1" in out
    assert "kubernetes:networking.k8s.io/v1:IngressClass ingress-ingress-class" in out
