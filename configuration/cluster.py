"""The cluster and node pool sections: what OVHcloud is asked for, or where the cluster is."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from configuration.base import (
    NEVER_CHANGES,
    REPLACES_CLUSTER,
    REPLACES_POOL,
    RFC1123_LABEL,
    SERVICE_NAME_ENV,
    STACK_NAME,
    Section,
    docs,
)
from configuration.errors import model_problem
from configuration.kubeconfig import kubeconfig_cluster

# Kubernetes minors that OVHcloud Managed Kubernetes offers for new clusters (its
# "software versions" page); update this set when OVHcloud adds or retires a minor.
SUPPORTED_KUBERNETES_VERSIONS = ("1.31", "1.32", "1.33", "1.34", "1.35")
DEFAULT_KUBERNETES_VERSION = "1.34"

ClusterMode = Literal["create", "existing", "stack"]
# OVHcloud regions of three availability zones (`type: region-3-az` in the cloud project's
# region list; terraform-provider-ovh documents EU-WEST-PAR). A cluster there needs the Standard
# plan, a private network with a gateway, and one node pool per zone.
MULTI_ZONE_REGIONS = {"EU-WEST-PAR": ("eu-west-par-a", "eu-west-par-b", "eu-west-par-c")}
# Ranges OVHcloud MKS uses inside every cluster (its "Known limits" page, "Ports and IP
# ranges"): a nodes' subnet that overlaps one of them breaks routing on the nodes. The Standard
# plan addresses its pods in 10.240.0.0/13 by default (OVHcloud's "pods and services IP
# allocation policy" guide).
RESERVED_NETWORKS = {
    "10.2.0.0/16": "the pods (Free plan)",
    "10.3.0.0/16": "the services",
    "172.17.0.0/16": "the nodes' container runtime bridge",
}
STANDARD_PLAN_PODS = "10.240.0.0/13"


class ClusterConfig(Section):
    mode: ClusterMode = Field(
        default="create",
        description="create (an OVHcloud cluster in this stack), existing (from "
        "cluster.kubeconfig) or stack (from another stack's outputs, cluster.stack)",
        json_schema_extra=docs(note="see [Stack composition](composition.md)"),
    )
    service_name: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{32}$",
        description="an OVHcloud Public Cloud project id (32 lowercase hexadecimal characters)",
        json_schema_extra=docs(
            note="required in `create` mode",
            shown_default="`$OVH_CLOUD_PROJECT_SERVICE`",
            change=REPLACES_CLUSTER,
        ),
    )
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
        description="1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit",
        json_schema_extra=docs(shown_default="`sticky-<stack>`"),
    )
    region: str = Field(
        default="GRA9",
        pattern=r"^[A-Z]+[0-9]*(-[A-Z0-9]+)*$",
        description="an OVHcloud region code such as GRA9, SBG5, BHS5, DE1 or EU-WEST-PAR",
        json_schema_extra=docs(
            note="EU-WEST-PAR has three zones: Standard plan, `network` and `nodePool.zones`",
            change=REPLACES_CLUSTER,
        ),
    )
    plan: Literal["free", "standard"] = Field(
        default="free",
        description="free or standard (the OVHcloud MKS plan)",
        json_schema_extra=docs(
            note="standard: SLA-backed control plane, required in a three-zone region",
            change=NEVER_CHANGES,
        ),
    )
    version: str = Field(
        default=DEFAULT_KUBERNETES_VERSION,
        description="a Kubernetes MAJOR.MINOR that OVHcloud offers: "
        + ", ".join(SUPPORTED_KUBERNETES_VERSIONS),
        json_schema_extra=docs(
            change="in place: an upgrade, one minor at a time, never down",
        ),
    )
    update_policy: Literal["ALWAYS_UPDATE", "MINIMAL_DOWNTIME", "NEVER_UPDATE"] = Field(
        default="MINIMAL_DOWNTIME",
        description="one of ALWAYS_UPDATE, MINIMAL_DOWNTIME, NEVER_UPDATE",
    )
    protect: bool = Field(
        default=False,
        description="true or false",
        json_schema_extra=docs(
            note="`true` protects the cluster and its network from deletion and replacement "
            "(never the pools: a new flavor or zone replaces them)"
        ),
    )
    api_allowed_cidrs: list[str] | None = Field(
        default=None,
        description="IPv4 networks allowed to reach the Kubernetes API, such as "
        "[203.0.113.7/32]; 0.0.0.0/0 (everyone) only when written",
        json_schema_extra=docs(
            note="unset: the API answers the whole internet; required on a `prod` stack. "
            "List the machines that run `pulumi up` (and CI's)",
            shown_default="everyone",
        ),
    )
    kubeconfig: SecretStr | None = Field(
        default=None,
        description="the kubeconfig of an existing cluster, set with --secret",
        json_schema_extra={"secret": True, "note": "`existing` mode"},
    )
    stack: str | None = Field(
        default=None,
        pattern=STACK_NAME,
        description="the stack that owns the cluster, as <organization>/<project>/<stack>",
        json_schema_extra=docs(note="`stack` mode"),
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_from_stack(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or info.context is None:
            return data
        if data.get("mode", "create") != "create":
            return data
        filled = dict(data)
        environ = info.context.get("environ", {})
        if "serviceName" not in filled and environ.get(SERVICE_NAME_ENV):
            filled["serviceName"] = environ[SERVICE_NAME_ENV]
        filled.setdefault("name", f"sticky-{info.context['stack']}")
        return filled

    @field_validator("version")
    @classmethod
    def _supported_version(cls, version: str) -> str:
        if version not in SUPPORTED_KUBERNETES_VERSIONS:
            raise ValueError("OVHcloud does not offer it")
        return version

    @field_validator("api_allowed_cidrs")
    @classmethod
    def _ipv4_networks(cls, cidrs: list[str] | None) -> list[str] | None:
        if cidrs is None:
            return None
        if not cidrs:
            raise ValueError("an empty list restricts nothing: list networks or remove the key")
        for cidr in cidrs:
            try:
                if "/" not in cidr:  # OVHcloud takes networks: one address is written /32
                    raise ValueError
                ipaddress.IPv4Network(cidr, strict=True)
            except ValueError:
                raise ValueError(
                    f"{cidr!r} is not an IPv4 network such as 203.0.113.7/32 (no host bits set)"
                ) from None
        if len(set(cidrs)) != len(cidrs):
            raise ValueError("a network is listed twice")
        return cidrs

    @field_validator("kubeconfig")
    @classmethod
    def _a_kubeconfig(cls, kubeconfig: SecretStr | None) -> SecretStr | None:
        if kubeconfig is not None:
            kubeconfig_cluster(kubeconfig.get_secret_value())
        return kubeconfig


class NodePoolConfig(Section):
    name: str = Field(
        default="default",
        pattern=RFC1123_LABEL,
        max_length=40,
        description="an RFC 1123 label of at most 40 characters: lowercase letters, digits, '-' "
        "(OVHcloud refuses '_')",
        json_schema_extra=docs(
            note="the pool is named `<name>[-<zone>]-<digest>` of what forces a new pool",
            change=REPLACES_POOL,
        ),
    )
    flavor: str = Field(
        default="b3-8",
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)+$",
        description="an OVHcloud instance flavor such as b3-8, b3-16 or c3-8",
        json_schema_extra=docs(change=REPLACES_POOL),
    )
    zones: list[Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]] = Field(
        default_factory=list,
        description="availability zones of the region, one pool each, such as eu-west-par-a",
        json_schema_extra=docs(
            note="sizes are per pool; required in a three-zone region", change=REPLACES_POOL
        ),
    )
    desired_nodes: int = Field(default=3, ge=1, le=100, description="an integer from 1 to 100")
    min_nodes: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="an integer from 0 to 100 (default: desiredNodes)",
        json_schema_extra=docs(
            note="`minNodes <= desiredNodes <= maxNodes`", shown_default="`desiredNodes`"
        ),
    )
    max_nodes: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="an integer from 1 to 100 (default: desiredNodes)",
        json_schema_extra=docs(
            note="`minNodes <= desiredNodes <= maxNodes`", shown_default="`desiredNodes`"
        ),
    )
    autoscale: bool = Field(
        default=False,
        description="true or false",
        json_schema_extra=docs(note="needs `minNodes < maxNodes`"),
    )
    anti_affinity: bool = Field(
        default=False,
        description="true or false",
        json_schema_extra=docs(
            note="nodes on distinct hypervisors; at most 5 nodes", change=REPLACES_POOL
        ),
    )
    monthly_billed: bool = Field(
        default=False, description="true or false", json_schema_extra=docs(change=REPLACES_POOL)
    )

    @model_validator(mode="after")
    def _coherent_sizes(self) -> NodePoolConfig:
        low, desired, high = self.lowest, self.desired_nodes, self.highest
        if low > high:
            raise model_problem(
                "needs minNodes <= maxNodes, got {got}",
                key="maxNodes",
                got=f"minNodes {low}, maxNodes {high}",
                fix=str(low),
            )
        if not low <= desired <= high:
            raise model_problem(
                "needs minNodes <= desiredNodes <= maxNodes, got {got}",
                key="desiredNodes",
                got=f"{low} <= {desired} <= {high}",
                fix=str(min(max(desired, low), high)),
            )
        if self.anti_affinity and high > 5:
            raise model_problem(
                "antiAffinity allows at most 5 nodes per pool, got maxNodes {got}",
                key="maxNodes",
                got=high,
                fix="5",
            )
        if self.autoscale and low == high:
            raise model_problem(
                "autoscale needs room to scale: minNodes ({got}) equals maxNodes",
                key="maxNodes",
                got=low,
            )
        return self

    @field_validator("zones")
    @classmethod
    def _each_zone_once(cls, zones: list[str]) -> list[str]:
        if len(set(zones)) != len(zones):
            raise ValueError("a zone is listed twice: one pool per zone")
        return zones

    @property
    def lowest(self) -> int:
        return self.desired_nodes if self.min_nodes is None else self.min_nodes

    @property
    def highest(self) -> int:
        return self.desired_nodes if self.max_nodes is None else self.max_nodes


class NetworkConfig(Section):
    """The private network the cluster's nodes use: none, one this stack creates (with its
    subnet and gateway), or an existing one."""

    mode: Literal["none", "create", "existing"] = Field(
        default="none",
        description="none, create (a private network, subnet and gateway in this stack) or "
        "existing (network.privateNetworkId and network.subnetId)",
        json_schema_extra=docs(change=REPLACES_CLUSTER),
    )
    vlan_id: int = Field(
        default=0,
        ge=0,
        le=4000,
        description="an integer from 0 to 4000 (the vRack VLAN of the network)",
        json_schema_extra=docs(note="`create` mode", change=REPLACES_CLUSTER),
    )
    cidr: str = Field(
        default="10.42.0.0/24",
        description="a private IPv4 network in CIDR notation, such as 10.42.0.0/24 (the nodes' "
        "subnet), outside 10.2.0.0/16, 10.3.0.0/16, 172.17.0.0/16 and, on the Standard plan, "
        "10.240.0.0/13",
        json_schema_extra=docs(
            note="`create` mode; a change replaces the subnet, the gateway and the cluster",
            change=REPLACES_CLUSTER,
        ),
    )
    gateway_model: Literal["s", "m", "l", "xl", "2xl", "3xl"] = Field(
        default="s",
        description="s, m, l, xl, 2xl or 3xl (the OVHcloud gateway size)",
        json_schema_extra=docs(note="`create` mode"),
    )
    private_network_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="the regional OpenStack id of the private network (a UUID: "
        "regions_attributes openstackid, not the vRack pn-... id)",
        json_schema_extra=docs(note="`existing` mode", change=REPLACES_CLUSTER),
    )
    subnet_id: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="the id of the nodes' subnet in that network (a UUID)",
        json_schema_extra=docs(note="`existing` mode", change=REPLACES_CLUSTER),
    )

    @field_validator("cidr")
    @classmethod
    def _an_ipv4_network(cls, cidr: str) -> str:
        try:
            network = ipaddress.IPv4Network(cidr, strict=True)
        except ValueError:
            raise ValueError("not an IPv4 network such as 10.42.0.0/24") from None
        if not network.is_private or network.num_addresses < 16:
            raise ValueError("a private network of at least 16 addresses (/28 or larger)")
        for reserved, used_for in RESERVED_NETWORKS.items():
            if network.overlaps(ipaddress.IPv4Network(reserved)):
                raise ValueError(
                    f"it overlaps {reserved}, which OVHcloud MKS uses for {used_for} in every "
                    "cluster: choose another range, such as 10.42.0.0/24"
                )
        return cidr
