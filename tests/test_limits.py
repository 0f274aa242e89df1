"""Values the real services refuse, refused before anything is declared (#24): a subnet too
small for the nodes the pools may grow to, an annotation key whose prefix Kubernetes refuses,
annotations over Kubernetes' 256 KiB."""

from __future__ import annotations

import json
from typing import Any

import pytest

from configuration.base import SERVICE_NAME_ENV
from configuration.errors import ConfigError
from configuration.running import parse_stack_config

ENV = {SERVICE_NAME_ENV: "0123456789abcdef0123456789abcdef"}
THREE_ZONES = {"region": "EU-WEST-PAR", "plan": "standard"}
ZONES = ["eu-west-par-a", "eu-west-par-b", "eu-west-par-c"]


def parsed(**sections: Any) -> list[str]:
    raw = {section: json.dumps(settings) for section, settings in sections.items()}
    try:
        parse_stack_config(raw, "dev", ENV)
    except ConfigError as error:
        return error.problems
    return []


# (cidr, nodes per pool at most, zones, fits): the nodes get the upper half of the subnet, and
# need one surge node per pool and 5 addresses for the load balancer and DHCP.
SUBNETS = [
    ("10.42.0.0/24", 3, ZONES, True),  # 127 addresses, 17 needed
    ("10.42.0.0/27", 3, ZONES, False),  # 15 for 17
    ("10.42.0.0/27", 2, ZONES, True),  # 15 for 14
    ("10.42.0.0/28", 1, [], True),  # 7 for 7
    ("10.42.0.0/28", 2, [], False),  # 7 for 8
    ("10.42.0.0/29", 1, [], False),  # 3 for 7
    ("10.42.0.0/30", 1, [], False),
    ("10.42.0.0/26", 10, [], True),  # 31 for 16
    ("10.42.0.0/26", 5, ZONES, True),  # 31 for 23
    ("10.42.0.0/27", 5, ZONES, False),  # 15 for 23
    ("10.42.0.0/25", 20, ZONES, False),  # 63 for 68
    ("10.42.0.0/24", 20, ZONES, True),  # 127 for 68
    ("10.42.0.0/22", 100, [], True),  # 511 for 106
    ("10.42.0.0/25", 100, [], False),  # 63 for 106
]


@pytest.mark.parametrize(("cidr", "nodes", "zones", "fits"), SUBNETS)
def test_the_subnet_holds_every_node_the_pools_may_grow_to(
    cidr: str, nodes: int, zones: list[str], fits: bool
) -> None:
    cluster = THREE_ZONES if zones else {"plan": "standard"}
    problems = parsed(
        cluster=cluster,
        network={"mode": "create", "cidr": cidr},
        nodePool={"zones": zones, "desiredNodes": 1, "minNodes": 1, "maxNodes": nodes,
                  "autoscale": nodes > 1},
    )  # fmt: skip
    about_cidr = [p for p in problems if p.startswith("sticky-sessions:network.cidr")]
    assert not about_cidr if fits else about_cidr, problems
    if not fits:
        suggested = about_cidr[0].rsplit(" ", 1)[1]
        fixed = parsed(
            cluster=cluster,
            network={"mode": "create", "cidr": suggested},
            nodePool={"zones": zones, "desiredNodes": 1, "minNodes": 1, "maxNodes": nodes,
                      "autoscale": nodes > 1},
        )  # fmt: skip
        assert not [p for p in fixed if "network.cidr" in p], (suggested, fixed)


LONG_PREFIX = ".".join(["a" * 63] * 4)  # 255 characters: a DNS name too long
ANNOTATIONS = [
    ({f"{LONG_PREFIX}/key": "v"}, "at most 253 characters"),
    ({f"{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * 61}/key": "v"}, None),  # 253: taken
    ({f"{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * 62}/key": "v"}, "at most 253 characters"),
    ({f"k{i}": "x" * 4096 for i in range(64)}, "at most 261120 bytes"),
    ({f"k{i}": "x" * 4096 for i in range(63)}, None),
    ({"example.com/" + "n" * 63: "v"}, None),
    ({"example.com/" + "n" * 64: "v"}, "serviceAnnotations"),
    ({"Example.com/key": "v"}, "serviceAnnotations"),
    ({"example.com//key": "v"}, "serviceAnnotations"),
    ({"/key": "v"}, "serviceAnnotations"),
    ({"example.com/-key": "v"}, "serviceAnnotations"),
    ({"example.com/key": "x" * 4097}, "serviceAnnotations"),
]


@pytest.mark.parametrize(("annotations", "said"), ANNOTATIONS)
def test_annotations_kubernetes_refuses_are_refused_first(
    annotations: dict[str, str], said: str | None
) -> None:
    problems = parsed(ingress={"serviceAnnotations": annotations})
    if said is None:
        assert problems == []
    else:
        assert any("ingress.serviceAnnotations" in p and said in p for p in problems), problems
        assert all(len(p) < 600 for p in problems)
