"""Rules across sections about the cluster: what each cluster mode takes and needs, the network
and zones OVHcloud requires, and what depends on the cluster's plan."""

from __future__ import annotations

import ipaddress

from configuration.base import SERVICE_NAME_ENV
from configuration.cluster import (
    MULTI_ZONE_REGIONS,
    STANDARD_PLAN_PODS,
    ClusterConfig,
    NetworkConfig,
    NodePoolConfig,
)
from configuration.errors import problem
from configuration.ingress import trusted_proxy_networks
from configuration.rules import Given, key, unused
from configuration.sections import IngressConfig

# Keys that only mean something when the stack creates the OVHcloud cluster itself.
CREATE_ONLY_KEYS = (
    "serviceName",
    "name",
    "region",
    "version",
    "updatePolicy",
    "plan",
    "protect",
    "apiAllowedCidrs",
)
# The key each cluster mode reads its cluster from, and how to set it.
MODE_SOURCES = {
    "existing": ("kubeconfig", 'pulumi config set --secret --path {key} "$(cat kubeconfig)"'),
    "stack": ("stack", "pulumi config set --path {key} <org>/<project>/<stack>"),
}


def service_name_in_create_mode(given: Given) -> list[str]:
    cluster: ClusterConfig | None = given.sections.get("cluster")
    if cluster is None or cluster.mode != "create" or cluster.service_name is not None:
        return []
    service_name = key("cluster", "serviceName")
    return [
        problem(
            service_name,
            "not set; expected an OVHcloud Public Cloud project id",
            f"pulumi config set --path {service_name} <project id> or export {SERVICE_NAME_ENV}",
        )
    ]


def create_only_keys_in_other_modes(given: Given) -> list[str]:
    cluster: ClusterConfig | None = given.sections.get("cluster")
    if cluster is None or cluster.mode == "create":
        return []
    why = f"only used with cluster.mode create (this stack's mode is {cluster.mode})"
    return (
        unused("cluster", [k for k in CREATE_ONLY_KEYS if k in given.set_in("cluster")], why)
        + unused("network", given.set_in("network"), why)
        + unused("nodePool", given.set_in("nodePool"), why)
    )


def mode_sources(given: Given) -> list[str]:
    """Each mode's source key: set in its mode, and only there."""
    cluster: ClusterConfig | None = given.sections.get("cluster")
    if cluster is None:
        return []
    problems = []
    for mode, (source, _) in MODE_SOURCES.items():
        if source in given.set_in("cluster") and cluster.mode != mode:
            why = f"only used with cluster.mode {mode} (this stack's mode is {cluster.mode})"
            problems += unused("cluster", [source], why)
    if cluster.mode in MODE_SOURCES:
        source, fix = MODE_SOURCES[cluster.mode]
        if source not in given.set_in("cluster"):
            full_key = key("cluster", source)
            problems.append(
                problem(
                    full_key,
                    f"not set; cluster.mode {cluster.mode} needs it",
                    fix.format(key=full_key),
                )
            )
    return problems


def created_cluster_needs_its_controller(given: Given) -> list[str]:
    cluster: ClusterConfig | None = given.sections.get("cluster")
    ingress: IngressConfig | None = given.sections.get("ingress")
    if cluster is None or ingress is None or cluster.mode != "create" or ingress.enabled:
        return []
    enabled = key("ingress", "enabled")
    return [
        problem(
            enabled,
            "false in cluster.mode create: a new cluster has no controller of another stack, "
            "so nothing would answer at the load balancer address the stack reads",
            f"pulumi config set --path {enabled} true",
        )
    ]


def zones_of_the_region(given: Given) -> list[str]:
    """What OVHcloud refuses in a three-zone region, and zones a region does not have."""
    cluster: ClusterConfig | None = given.sections.get("cluster")
    network: NetworkConfig | None = given.sections.get("network")
    pool: NodePoolConfig | None = given.sections.get("nodePool")
    if cluster is None or network is None or pool is None or cluster.mode != "create":
        return []
    zones = MULTI_ZONE_REGIONS.get(cluster.region, ())
    problems = []
    for zone in pool.zones:
        if zone not in zones:
            has = f"its zones are {', '.join(zones)}" if zones else "it has a single zone"
            zones_key = key("nodePool", "zones")
            problems.append(
                problem(
                    zones_key,
                    f"{zone!r} is not a zone of {cluster.region} ({has})",
                    f"pulumi config rm --path {zones_key}"
                    if not zones
                    else f"pulumi config set --path '{zones_key}[0]' {zones[0]}",
                )
            )
    if not zones:
        return problems
    where = f"{cluster.region} is a three-zone region"
    if cluster.plan != "standard":
        plan = key("cluster", "plan")
        problems.append(
            problem(
                plan,
                f"free, but {where}: OVHcloud needs the Standard plan there",
                f"pulumi config set --path {plan} standard",
            )
        )
    if network.mode == "none":
        mode = key("network", "mode")
        problems.append(
            problem(
                mode,
                f"none, but {where}: its nodes need a private network with a gateway",
                f"pulumi config set --path {mode} create",
            )
        )
    if not pool.zones:
        zones_key = key("nodePool", "zones")
        problems.append(
            problem(
                zones_key,
                f"not set, but {where}: each node pool lives in one zone ({', '.join(zones)})",
                " && ".join(
                    f"pulumi config set --path '{zones_key}[{i}]' {zone}"
                    for i, zone in enumerate(zones)
                ),
            )
        )
    return problems


def network_of_its_mode(given: Given) -> list[str]:
    network: NetworkConfig | None = given.sections.get("network")
    if network is None:
        return []
    set_keys = given.set_in("network")
    used_in = {
        "none": (),
        "create": ("vlanId", "cidr", "gatewayModel"),
        "existing": ("privateNetworkId", "subnetId"),
    }
    not_used = [k for k in set_keys if k != "mode" and k not in used_in[network.mode]]
    problems = unused("network", not_used, f"not used with network.mode {network.mode}")
    if network.mode == "existing":
        for needed in ("privateNetworkId", "subnetId"):
            if needed not in set_keys:
                full_key = key("network", needed)
                problems.append(
                    problem(
                        full_key,
                        "not set; network.mode existing needs it",
                        f"pulumi config set --path {full_key} <id>",
                    )
                )
    return problems


def load_balancer_flavor_of_the_plan(given: Given) -> list[str]:
    """OVHcloud reads a flavor name on the Free plan and a flavor UUID on the Standard plan;
    the other one is ignored without a word."""
    cluster: ClusterConfig | None = given.sections.get("cluster")
    ingress: IngressConfig | None = given.sections.get("ingress")
    if cluster is None or ingress is None or cluster.mode != "create":
        return []
    if cluster.plan == "standard" and ingress.load_balancer_flavor is not None:
        flavor_id = key("ingress", "loadBalancerFlavorId")
        return [
            problem(
                key("ingress", "loadBalancerFlavor"),
                "a flavor name, which the Standard plan ignores: it takes a flavor UUID",
                f"pulumi config rm --path {key('ingress', 'loadBalancerFlavor')} && pulumi "
                f"config set --path {flavor_id} <uuid from openstack loadbalancer flavor list>",
            )
        ]
    if cluster.plan == "free" and ingress.load_balancer_flavor_id is not None:
        flavor = key("ingress", "loadBalancerFlavor")
        return [
            problem(
                key("ingress", "loadBalancerFlavorId"),
                "a flavor UUID, which the Free plan ignores: it takes a flavor name",
                f"pulumi config rm --path {key('ingress', 'loadBalancerFlavorId')} && pulumi "
                f"config set --path {flavor} small",
            )
        ]
    return []


def a_controller_per_zone(given: Given) -> list[str]:
    pool: NodePoolConfig | None = given.sections.get("nodePool")
    ingress: IngressConfig | None = given.sections.get("ingress")
    if pool is None or ingress is None or not ingress.enabled:
        return []
    if ingress.replicas >= len(pool.zones):
        return []
    replicas = key("ingress", "replicas")
    return [
        problem(
            replicas,
            f"{ingress.replicas} for {len(pool.zones)} zones: a zone without a controller "
            "pod loses its traffic share whenever another zone is down",
            f"pulumi config set --path {replicas} {len(pool.zones)}",
        )
    ]


def network_outside_the_pods_of_the_plan(given: Given) -> list[str]:
    """The Standard plan addresses its pods in 10.240.0.0/13: the nodes' subnet must not."""
    cluster: ClusterConfig | None = given.sections.get("cluster")
    network: NetworkConfig | None = given.sections.get("network")
    if cluster is None or network is None or network.mode != "create":
        return []
    if cluster.plan != "standard":
        return []
    pods = ipaddress.IPv4Network(STANDARD_PLAN_PODS)
    if not ipaddress.IPv4Network(network.cidr).overlaps(pods):
        return []
    cidr = key("network", "cidr")
    return [
        problem(
            cidr,
            f"{network.cidr} overlaps {STANDARD_PLAN_PODS}, where the Standard plan puts the "
            "cluster's pods",
            f"pulumi config set --path {cidr} 10.42.0.0/24",
        )
    ]


def api_access_on_prod(given: Given) -> list[str]:
    """A production cluster's API is not left open to the internet by default."""
    cluster: ClusterConfig | None = given.sections.get("cluster")
    if cluster is None or cluster.mode != "create" or "prod" not in given.stack:
        return []
    if cluster.api_allowed_cidrs is not None:
        return []
    allowed = key("cluster", "apiAllowedCidrs")
    return [
        problem(
            allowed,
            f"not set on the production stack {given.stack!r}: its Kubernetes API would answer "
            "the whole internet. List the networks of the machines that run `pulumi up` and "
            "CI's (0.0.0.0/0 written out keeps it open on purpose)",
            f"pulumi config set --path '{allowed}[0]' <your public address>/32",
        )
    ]


def proxy_protocol_trusts_a_network(given: Given) -> list[str]:
    """Traefik reads a PROXY header only from the networks it trusts (its entry points'
    proxyProtocol.trustedIPs): without one, every request through the load balancer fails."""
    ingress: IngressConfig | None = given.sections.get("ingress")
    network: NetworkConfig | None = given.sections.get("network")
    if ingress is None or network is None or not ingress.enabled:
        return []
    trusted_key = key("ingress", "proxyProtocolTrustedCidrs")
    if ingress.proxy_protocol_trusted_cidrs and not ingress.proxy_protocol:
        return unused("ingress", ["proxyProtocolTrustedCidrs"], "used with proxyProtocol true only")
    if not ingress.proxy_protocol or trusted_proxy_networks(ingress, network):
        return []
    if ingress.controller != "traefik":
        return []  # ingress-nginx's chart default trusts any sender (proxy-real-ip-cidr)
    return [
        problem(
            trusted_key,
            "not set, and the stack does not create the network the load balancer sends from "
            f"(network.mode {network.mode}): Traefik believes a PROXY header only from the "
            "networks it trusts, never from everyone",
            f"pulumi config set --path '{trusted_key}[0]' <the load balancer's subnet, e.g. "
            "10.0.0.0/16>",
        )
    ]


# Addresses of the subnet's allocation pool (the DHCP range the stack gives it: the upper half,
# components/network.py) that are not the nodes': OpenStack's DHCP ports (up to 2) and the
# Octavia load balancer's VIP and amphora ports (up to 3 in active-standby).
OTHER_PORTS = 5


def subnet_holds_the_nodes(given: Given) -> list[str]:
    """The subnet the stack creates must hold every node the pools may grow to, one more per
    pool during an upgrade (a surge node), and the load balancer's and DHCP's ports."""
    network: NetworkConfig | None = given.sections.get("network")
    pool: NodePoolConfig | None = given.sections.get("nodePool")
    cluster: ClusterConfig | None = given.sections.get("cluster")
    if network is None or pool is None or cluster is None:
        return []
    if network.mode != "create" or cluster.mode != "create":
        return []
    pools = max(1, len(pool.zones))
    needed = pools * (pool.highest + 1) + OTHER_PORTS
    subnet = ipaddress.IPv4Network(network.cidr)
    available = subnet.num_addresses // 2 - 1
    if available >= needed:
        return []
    prefix = next(p for p in range(subnet.prefixlen, 0, -1) if 2 ** (32 - p) // 2 - 1 >= needed)
    cidr = key("network", "cidr")
    return [
        problem(
            cidr,
            f"{network.cidr} gives the nodes {available} addresses (the upper half of the "
            f"subnet), and {needed} are needed: {pools} pool(s) of up to {pool.highest} nodes, "
            f"one surge node each during an upgrade, and {OTHER_PORTS} for the load balancer and "
            "DHCP",
            f"pulumi config set --path {cidr} "
            f"{ipaddress.IPv4Network((subnet.network_address, prefix), strict=False)}",
        )
    ]
