"""A secret never appears in a message, including those of rules that compare two settings (#24).
The real CLI hands the program decrypted values and the names of the secret keys: these cases
give the parser exactly that, with a recognisable secret, and read every line it reports."""

from __future__ import annotations

import json
from typing import Any

import pytest

from configuration.base import SERVICE_NAME_ENV
from configuration.errors import SECRET_MASK, ConfigError
from configuration.running import parse_stack_config

ENV = {SERVICE_NAME_ENV: "0123456789abcdef0123456789abcdef"}


def case(name: str, secret: str, value: str, **sections: Any) -> Any:
    raw = {section: json.dumps(settings) for section, settings in sections.items()}
    return pytest.param(raw, frozenset({f"sticky-sessions:{secret}"}), value, id=name)


CASES = [
    case("secret zone, host outside it", "dns", "zone-sekret.example",
         dns={"zone": "zone-sekret.example"}, app={"host": "sticky.other.example"}),
    case("secret zone, no host", "dns", "zone-sekret.example", dns={"zone": "zone-sekret.example"}),
    case("secret host outside the zone", "app", "host-sekret.example",
         app={"host": "host-sekret.example"}, dns={"zone": "example.com"}),
    case("secret zones of a pool", "nodePool", "zone-sekret-a",
         nodePool={"zones": ["zone-sekret-a"]}),
    case("secret three-zone region on free", "cluster", "EU-WEST-PAR",
         cluster={"region": "EU-WEST-PAR", "plan": "free"}),
    case("secret region without those zones", "cluster", "GRA11",
         cluster={"region": "GRA11"}, nodePool={"zones": ["eu-west-par-a"]}),
    case("secret cookie path", "affinity", "/cookie-sekret",
         affinity={"path": "/cookie-sekret"}, app={"path": "/app"}),
    case("secret app path", "app", "/app-sekret",
         affinity={"path": "/other"}, app={"path": "/app-sekret"}),
    case("secret namespace shared", "ingress", "ns-sekret",
         ingress={"namespace": "ns-sekret", "enabled": False}, app={"namespace": "ns-sekret"}),
    case("secret network in the pods' range", "network", "10.240.0.0/16",
         network={"mode": "create", "cidr": "10.240.0.0/16"}, cluster={"plan": "standard"}),
    case("secret flavor on the standard plan", "ingress", "medium",
         ingress={"loadBalancerFlavor": "medium"}, cluster={"plan": "standard"}),
    case("secret tls email without host", "tls", "ops-sekret@example.com",
         tls={"enabled": True, "email": "ops-sekret@example.com"}),
    case("secret trusted networks without proxyProtocol", "ingress", "10.77.0.0/16",
         ingress={"proxyProtocolTrustedCidrs": ["10.77.0.0/16"]}),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "secret_keys", "value"), CASES)
def test_no_rule_quotes_a_secret(raw: dict, secret_keys: frozenset[str], value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_stack_config(raw, "dev", ENV, secret_keys)
    text = str(refused.value)
    assert value not in text, text
    assert len(refused.value.problems) >= 1


def test_the_same_rules_quote_values_that_are_not_secret() -> None:
    """The masking is what hides them: without the secret key, the value is quoted."""
    raw = {"dns": json.dumps({"zone": "zone-open.example"}),
           "app": json.dumps({"host": "sticky.other.example"})}  # fmt: skip
    with pytest.raises(ConfigError) as refused:
        parse_stack_config(raw, "dev", ENV, frozenset())
    assert "zone-open.example" in str(refused.value)
    with pytest.raises(ConfigError) as hidden:
        parse_stack_config(raw, "dev", ENV, frozenset({"sticky-sessions:dns"}))
    assert "zone-open.example" not in str(hidden.value) and SECRET_MASK in str(hidden.value)
