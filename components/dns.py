"""The DNS record that points the app's host at the load balancer, in an OVHcloud zone."""

from __future__ import annotations

import ipaddress

import pulumi
from pulumi_ovh import domain


def record_type(address: str) -> str:
    """A for an IPv4 address, AAAA for IPv6, CNAME for a load balancer known by a name."""
    try:
        return "AAAA" if ipaddress.ip_address(address).version == 6 else "A"
    except ValueError:
        return "CNAME"


def subdomain(host: str, zone: str) -> str:
    """`sticky` of `sticky.example.com` in `example.com`; empty at the apex."""
    return "" if host == zone else host.removesuffix(f".{zone}")


def record_line(host: str, ttl: int, address: str) -> str:
    """The record as a zone file writes it: what to create by hand without `dns.zone`."""
    target = address if record_type(address) != "CNAME" else f"{address}."
    return f"{host}. {ttl} IN {record_type(address)} {target}"


class HostRecord(pulumi.ComponentResource):
    """`host` -> the load balancer address in `zone`, once the address is known."""

    def __init__(
        self,
        name: str,
        host: str,
        zone: str,
        ttl: int,
        load_balancer_address: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sticky-sessions:index:HostRecord", name, None, opts)
        address = pulumi.Output.from_input(load_balancer_address)
        self.record = domain.ZoneRecord(
            f"{name}-record",
            zone=zone,
            subdomain=subdomain(host, zone),
            fieldtype=address.apply(record_type),
            target=address.apply(lambda a: a if record_type(a) != "CNAME" else f"{a}."),
            ttl=ttl,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
