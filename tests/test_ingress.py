"""The ingress-nginx Helm release, its namespace, and the load balancer address it yields."""

from pathlib import Path

import pytest
import yaml

from components.controller_values import nginx_values
from components.ingress import INGRESS_CLASS_NAME, load_balancer_address
from configuration.sections import IngressConfig
from tests.helpers import (
    NAMESPACE,
    controller_release,
    controller_service,
    refused,
    run_ok,
)
from tools.preview.mocks import LOAD_BALANCER_IP
from tools.preview.recorded import ProgramRun, plain


def test_release_is_named_exactly_and_pins_the_final_chart(dev: ProgramRun) -> None:
    release = controller_release(dev).inputs
    assert release["name"] == "ingress-nginx"  # no random suffix on every rendered name
    assert release["chart"] == "ingress-nginx"
    assert release["version"] == "4.15.1"
    assert release["repositoryOpts"] == {"repo": "https://kubernetes.github.io/ingress-nginx"}


def test_a_change_of_controller_deletes_the_old_release_first(dev: ProgramRun) -> None:
    # Replacing ingress-nginx by Traefik must never run both against the same Ingress status.
    assert controller_release(dev).delete_before_replace


def test_release_goes_into_its_own_namespace_which_the_stack_creates(dev: ProgramRun) -> None:
    namespace = dev.one(NAMESPACE, "ingress-namespace")
    assert namespace.inputs["metadata"]["name"] == "ingress-nginx"
    release = controller_release(dev)
    assert release.inputs["namespace"] == "ingress-nginx"
    assert namespace.urn in release.dependencies


def test_config_reaches_the_release() -> None:
    run = run_ok(
        ingress={
            "chartVersion": "4.15.0",
            "namespace": "edge",
            "replicas": 3,
            "externalTrafficPolicy": "Local",
            "serviceAnnotations": {"loadbalancer.openstack.org/timeout-client-data": "60000"},
        }
    )
    release = controller_release(run).inputs
    assert release["version"] == "4.15.0"
    assert release["namespace"] == "edge"
    controller = plain(release["values"])["controller"]
    assert controller["replicaCount"] == 3
    assert controller["service"]["externalTrafficPolicy"] == "Local"
    assert controller["service"]["annotations"] == {
        "loadbalancer.openstack.org/timeout-client-data": "60000"
    }


def test_controller_serves_the_nginx_class_and_refuses_snippets() -> None:
    values = nginx_values(IngressConfig())
    controller = values["controller"]
    assert controller["ingressClassResource"]["name"] == INGRESS_CLASS_NAME == "nginx"
    # The program owns the IngressClass, so a change of controller keeps it.
    assert controller["ingressClassResource"]["enabled"] is False
    assert controller["ingressClass"] == "nginx"
    assert controller["allowSnippetAnnotations"] is False
    assert controller["admissionWebhooks"]["enabled"] is True
    assert controller["service"]["type"] == "LoadBalancer"


def test_controller_service_is_looked_up_from_the_release_status(dev: ProgramRun) -> None:
    lookup = controller_service(dev)
    assert lookup.read
    assert lookup.id == "ingress-nginx/ingress-nginx-controller"


def test_load_balancer_address_and_ingress_class_are_outputs(stack_run: ProgramRun) -> None:
    assert stack_run.outputs["loadBalancerAddress"] == LOAD_BALANCER_IP
    assert stack_run.outputs["ingressClassName"] == "nginx"


@pytest.mark.parametrize(
    ("status", "address"),
    [
        ({"load_balancer": {"ingress": [{"ip": "198.51.100.7"}]}}, "198.51.100.7"),
        ({"load_balancer": {"ingress": [{"hostname": "lb.example.net"}]}}, "lb.example.net"),
        ({"loadBalancer": {"ingress": [{"ip": "198.51.100.8", "hostname": "x"}]}}, "198.51.100.8"),
        (
            {"load_balancer": {"ingress": [{}, {"hostname": "second.example.net"}]}},
            "second.example.net",
        ),
    ],
    ids=["ip", "hostname only", "ip before hostname", "first entry with an address"],
)
def test_load_balancer_address_prefers_the_ip_then_the_hostname(status: dict, address: str) -> None:
    assert load_balancer_address(status) == address


@pytest.mark.parametrize("status", [None, {}, {"load_balancer": {"ingress": []}}])
def test_a_service_without_an_address_is_an_error_not_an_empty_url(status: dict | None) -> None:
    with pytest.raises(ValueError, match="no load balancer address"):
        load_balancer_address(status)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_retirement_is_warned_once_per_run(stack: str, dev: ProgramRun, prod: ProgramRun) -> None:
    run = {"dev": dev, "prod": prod}[stack]
    warnings = [w for w in run.warnings() if "retired upstream" in w]
    assert len(warnings) == 1
    assert "4.15.1" in warnings[0] and "security fixes" in warnings[0]


# --- hardened values, checked against the chart's own values.yaml ----------------------------

CHART_DATA = Path(__file__).parent / "data" / "ingress-nginx-4.15.1"


# Values the chart's templates copy whole into the manifest (`toYaml`): any Kubernetes field of
# the object goes below them, whether values.yaml shows it or not (it comments `limits` out).
PASSED_THROUGH = {"controller.resources"}


def _unknown_keys(values: dict, chart: dict, path: str = "") -> list[str]:
    """Keys of `values` the chart does not know. Below a chart default that is an empty map
    (annotations, config, ...) or a passed-through value, any key is the user's own."""
    unknown = []
    for key, value in values.items():
        here = f"{path}.{key}" if path else key
        if key not in chart:
            unknown.append(here)
        elif (
            isinstance(value, dict)
            and isinstance(chart[key], dict)
            and chart[key]
            and here not in PASSED_THROUGH
        ):
            unknown += _unknown_keys(value, chart[key], here)
    return unknown


def test_vendored_chart_is_the_pinned_version() -> None:
    chart = yaml.safe_load((CHART_DATA / "Chart.yaml").read_text())
    assert chart["version"] == IngressConfig().chart_version == "4.15.1"


@pytest.mark.parametrize(
    "ingress",
    [
        {},
        {"proxyProtocol": True, "loadBalancerFlavor": "medium", "replicas": 3, "metrics": False},
        {"resources": {"limits": {"memory": "512Mi"}}, "externalTrafficPolicy": "Local"},
    ],
    ids=["defaults", "proxy protocol and flavor", "memory limit and Local"],
)
def test_every_value_is_a_key_of_the_chart(ingress: dict) -> None:
    chart = yaml.safe_load((CHART_DATA / "values.yaml").read_text())
    values = nginx_values(IngressConfig.model_validate(ingress))
    assert _unknown_keys(values, chart) == []


def test_key_check_catches_a_typo() -> None:
    chart = yaml.safe_load((CHART_DATA / "values.yaml").read_text())
    assert _unknown_keys({"controller": {"replicaCont": 2}}, chart) == ["controller.replicaCont"]


def test_prod_runs_two_controllers_with_a_disruption_budget(prod: ProgramRun) -> None:
    controller = plain(controller_release(prod).inputs["values"])["controller"]
    assert controller["replicaCount"] >= 2
    assert controller["minAvailable"] == 1


def test_hardened_values_reach_the_release(dev: ProgramRun) -> None:
    controller = plain(controller_release(dev).inputs["values"])["controller"]
    assert controller["allowSnippetAnnotations"] is False
    assert controller["admissionWebhooks"]["enabled"] is True
    assert controller["resources"]["requests"] == {"cpu": "100m", "memory": "90Mi"}
    assert controller["metrics"]["enabled"] is True
    assert controller["updateStrategy"]["rollingUpdate"]["maxUnavailable"] == 0
    spreads = controller["topologySpreadConstraints"]
    assert {s["topologyKey"] for s in spreads} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    for spread in spreads:
        assert (
            spread["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "ingress-nginx"
        )


def test_proxy_protocol_turns_on_both_ends_together() -> None:
    values = nginx_values(IngressConfig(proxy_protocol=True, load_balancer_flavor="large"))
    controller = values["controller"]
    assert controller["service"]["annotations"] == {
        "loadbalancer.openstack.org/proxy-protocol": "true",
        "loadbalancer.ovhcloud.com/flavor": "large",
    }
    assert controller["config"] == {"use-proxy-protocol": "true"}
    plain_values = nginx_values(IngressConfig())["controller"]
    assert plain_values["config"] == {} and plain_values["service"]["annotations"] == {}


FLAVOR_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"


def test_each_plan_gets_the_flavor_annotation_it_reads(prod: ProgramRun) -> None:
    # OVHcloud: a flavor name on MKS Free only, a flavor UUID on MKS Standard only.
    free = run_ok(ingress={"loadBalancerFlavor": "medium"})
    annotations = plain(controller_release(free).inputs["values"])["controller"]["service"][
        "annotations"
    ]
    assert annotations == {"loadbalancer.ovhcloud.com/flavor": "medium"}
    standard = run_ok({"sticky-sessions:ingress.loadBalancerFlavorId": FLAVOR_ID}, stack="prod")
    values = plain(controller_release(standard).inputs["values"])["controller"]
    assert values["service"]["annotations"] == {"loadbalancer.openstack.org/flavor-id": FLAVOR_ID}


@pytest.mark.parametrize(
    ("stack", "setting", "key"),
    [
        ("prod", {"sticky-sessions:ingress.loadBalancerFlavor": "large"}, "loadBalancerFlavor"),
        (
            "dev",
            {"sticky-sessions:ingress.loadBalancerFlavorId": FLAVOR_ID},
            "loadBalancerFlavorId",
        ),
    ],
    ids=["a flavor name on the Standard plan", "a flavor UUID on the Free plan"],
)
def test_the_flavor_setting_the_plan_ignores_is_refused(
    stack: str, setting: dict, key: str
) -> None:
    message = refused(setting, stack=stack)
    assert f"ingress.{key}:" in message and "ignores" in message
