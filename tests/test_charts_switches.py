"""Each switch of the ingress section, with each controller: what the charts render validates
strictly on every supported Kubernetes version, and no value changes the CRDs a chart installs
(split from test_charts_validate.py so that the two run side by side)."""

from __future__ import annotations

from typing import Any

import pytest

from configuration.cluster import SUPPORTED_KUBERNETES_VERSIONS
from tests.helpers import (
    CONTROLLER_NAMES,
    by_kind,
    controller_release,
    needs_helm,
    rendered,
    run_ok,
)
from tests.test_charts_validate import validate
from tools.preview.recorded import ProgramRun

SWITCHES = {
    "proxy protocol": {
        "sticky-sessions:ingress.proxyProtocol": True,
        "sticky-sessions:ingress.proxyProtocolTrustedCidrs": ["10.0.0.0/16"],
    },
    "floating IP": {
        "sticky-sessions:ingress.keepFloatingIp": True,
        "sticky-sessions:ingress.loadBalancerIp": "51.210.1.10",
    },
    "metrics off": {"sticky-sessions:ingress.metrics": False},
    "3 replicas": {"sticky-sessions:ingress.replicas": 3},
    "Local traffic": {"sticky-sessions:ingress.externalTrafficPolicy": "Local"},
    "flavor": {"sticky-sessions:ingress.loadBalancerFlavor": "large"},
}


# A switch changes a few fields of objects that every version validates in the base stacks
# (test_charts_validate.py): the oldest and the newest supported versions bound the schemas.
EDGE_VERSIONS = (SUPPORTED_KUBERNETES_VERSIONS[0], SUPPORTED_KUBERNETES_VERSIONS[-1])


@needs_helm
@pytest.mark.parametrize("switch", SWITCHES.values(), ids=SWITCHES.keys())
@pytest.mark.parametrize("controller", CONTROLLER_NAMES)
def test_rendered_objects_validate_with_each_switch_on_the_edge_versions(
    switch: dict, controller: str
) -> None:
    if controller == "traefik" and "metrics" in str(switch):
        pytest.skip("refused with Traefik (tested in test_traefik.py)")
    run = run_ok({"sticky-sessions:ingress.controller": controller} | switch)
    for minor in EDGE_VERSIONS:
        # The CRDs are the chart's crds/ files as they are, validated with every stack above.
        for obj in rendered(run, controller_release(run).name, minor, include_crds=False):
            validate(obj, minor)


@needs_helm
def test_no_value_changes_the_crds_a_chart_installs() -> None:
    # Why the switches above are rendered without them: Helm does not template crds/.
    def crds(run: ProgramRun) -> list[dict[str, Any]]:
        return by_kind(rendered(run, controller_release(run).name), "CustomResourceDefinition")

    traefik = {"sticky-sessions:ingress.controller": "traefik"}
    plain_crds = crds(run_ok(traefik))
    assert len(plain_crds) == 25
    for switch in SWITCHES.values():
        if "metrics" in str(switch):
            continue
        assert crds(run_ok(traefik | switch)) == plain_crds
