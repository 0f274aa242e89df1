"""The controller registry: one entry per controller, and validation that reads its flags."""

import dataclasses

import pytest

from components.controller_values import VALUES
from configuration import controllers
from configuration.controllers import CONTROLLERS, Feature
from configuration.errors import ConfigError
from configuration.running import parse_stack_config
from configuration.sections import IngressConfig

ENV = {"OVH_CLOUD_PROJECT_SERVICE": "0" * 32}


def test_every_controller_has_a_values_function_and_nothing_else_does() -> None:
    assert set(VALUES) == set(CONTROLLERS)


@pytest.mark.parametrize("name", CONTROLLERS)
def test_config_defaults_come_from_the_controllers_entry(name: str) -> None:
    config = IngressConfig.model_validate({"controller": name})
    assert config.chart_version == CONTROLLERS[name].chart.version
    assert config.namespace == CONTROLLERS[name].namespace


def test_a_name_outside_the_registry_is_refused_with_the_registrys_names() -> None:
    with pytest.raises(ConfigError) as error:
        parse_stack_config({"ingress": '{"controller": "nginx"}'}, "dev", ENV)
    line = next(line for line in error.value.problems if "ingress.controller" in line)
    assert all(name in line for name in CONTROLLERS)


def test_validation_follows_the_capability_flags_not_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ingress-nginx takes proxyProtocol today; an entry that says it cannot is refused the same
    # way Traefik is, with the entry's reason.
    nginx = CONTROLLERS["ingress-nginx"]
    without = dataclasses.replace(nginx, unsupported={Feature.PROXY_PROTOCOL: "it cannot here"})
    IngressConfig(proxy_protocol=True)
    monkeypatch.setitem(controllers.CONTROLLERS, "ingress-nginx", without)
    with pytest.raises(ConfigError) as error:
        parse_stack_config({"ingress": '{"proxyProtocol": true}'}, "dev", ENV)
    assert "sticky-sessions:ingress.proxyProtocol: it cannot here" in error.value.problems[0]


def test_only_features_a_controller_lacks_carry_a_reason() -> None:
    for controller in CONTROLLERS.values():
        for feature, why in controller.unsupported.items():
            assert not controller.supports(feature) and why.strip(), (controller.name, feature)
