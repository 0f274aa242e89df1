"""The private network an MKS cluster's nodes use: one the stack creates (network, subnet,
gateway, as terraform-provider-ovh's multi-zone example does), or an existing one by its ids."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pulumi
from pulumi_ovh import cloudproject
from pulumi_ovh.cloudproject.outputs import NetworkPrivateRegionsAttribute

from configuration.cluster import NetworkConfig


def dhcp_range(cidr: str) -> tuple[str, str]:
    """The subnet's DHCP range: its upper half, below the broadcast address (the lower half
    leaves room for the gateway and fixed addresses)."""
    network = ipaddress.IPv4Network(cidr)
    return str(network[network.num_addresses // 2]), str(network[-2])


def openstack_id(regions: Sequence[NetworkPrivateRegionsAttribute] | None, region: str) -> str:
    """The network's id in `region` (regions_attributes[].openstackid), which the Kube and the
    gateway take."""
    for attributes in regions or []:
        if attributes.region == region and attributes.openstackid:
            return attributes.openstackid
    raise ValueError(f"the private network has no OpenStack id in {region} yet")


class OvhNetwork(pulumi.ComponentResource):
    """`private_network_id` is the regional OpenStack id the Kube resource takes (not the vRack
    `pn-...` id); `subnet_id` the nodes' subnet; `ready` what the cluster must wait for."""

    private_network_id: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    ready: Sequence[pulumi.Resource]

    def __init__(
        self,
        name: str,
        network: NetworkConfig,
        service_name: pulumi.Input[str],
        region: str,
        unique_name: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`unique_name` names the network and gateway in OVHcloud: OVHcloud's cloud controller
        finds the network by its name, so two stacks in one project must never share one."""
        super().__init__("sticky-sessions:index:OvhNetwork", name, None, opts)
        if network.mode == "existing":
            assert network.private_network_id and network.subnet_id  # the config requires them
            self.private_network_id = pulumi.Output.from_input(network.private_network_id)
            self.subnet_id = pulumi.Output.from_input(network.subnet_id)
            self.ready = []
            self.register_outputs({})
            return
        child = pulumi.ResourceOptions(parent=self)
        private = cloudproject.NetworkPrivate(
            f"{name}-private",
            service_name=service_name,
            name=unique_name,
            vlan_id=network.vlan_id,
            regions=[region],
            opts=child,
        )
        self.private_network_id = private.regions_attributes.apply(
            lambda regions: openstack_id(regions, region)
        )
        start, end = dhcp_range(network.cidr)
        subnet = cloudproject.NetworkPrivateSubnet(
            f"{name}-subnet",
            service_name=service_name,
            network_id=private.id,
            region=region,
            network=network.cidr,
            start=start,
            end=end,
            dhcp=True,
            no_gateway=False,
            opts=child,
        )
        self.subnet_id = subnet.id
        # A multi-zone cluster refuses to start without a gateway on its network.
        gateway = cloudproject.Gateway(
            f"{name}-gateway",
            service_name=service_name,
            name=f"{unique_name}-gateway",
            model=network.gateway_model,
            region=region,
            network_id=self.private_network_id,
            subnet_id=subnet.id,
            opts=child,
        )
        self.ready = [gateway]
        self.register_outputs(
            {"private_network_id": self.private_network_id, "subnet_id": self.subnet_id}
        )
