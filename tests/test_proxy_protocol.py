"""The PROXY protocol end to end on 127.0.0.1: a client at 127.0.0.2, real HAProxy sending PROXY
protocol v2 (`send-proxy-v2`, as OVHcloud's load balancer with the proxy-protocol annotation),
the real Traefik started with the arguments the real chart renders from the stack's values, and a
pod that says which client address reached it. A sender outside the trusted networks is not
believed.
And what the stack declares: the trusted networks, the floating IP kept and reused."""

from __future__ import annotations

import contextlib
import http.client
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from components.controller_values import nginx_values, traefik_values
from configuration.ingress import IngressConfig
from tests.helpers import refused, run_ok
from tools.local_servers import ingress_nginx as real_nginx
from tools.local_servers import traefik as real
from tools.local_servers.balancers import _configured
from tools.local_servers.pods import LOOPBACK, QuietServer
from tools.preview.charts import render_run
from tools.preview.recorded import kubernetes_objects, manifest

CLIENT = "127.0.0.2"  # the client's own address, which only the PROXY header carries
TRAEFIK = {"controller": "traefik", "proxyProtocol": True}


class SaysWhoAsked(BaseHTTPRequestHandler):
    """A pod that answers like what-is-my-pod and says the client address it was given."""

    def do_GET(self) -> None:
        body = (
            f'Hello "pod-a"! X-Real-Ip={self.headers.get("X-Real-Ip")} '
            f"X-Forwarded-For={self.headers.get('X-Forwarded-For')}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@contextlib.contextmanager
def pod() -> Iterator[int]:
    server = QuietServer((LOOPBACK, 0), SaysWhoAsked)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def haproxy_sending_proxy_v2(target: int) -> contextlib.AbstractContextManager[int]:
    """HAProxy in TCP mode, as a layer-4 load balancer: PROXY v2 to `target`."""
    return _configured(
        "haproxy",
        "haproxy.cfg",
        lambda _, port: (
            "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n"
            "    timeout server 10s\n"
            f"frontend lb\n    bind {LOOPBACK}:{port}\n    default_backend controller\n"
            f"backend controller\n    server traefik {LOOPBACK}:{target} send-proxy-v2\n"
        ),
        ["-db", "-f", "{config}"],
    )


def ask(port: int) -> tuple[int, str]:
    """GET / from the client's own address; (0, reason) when the connection is refused."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=10, source_address=(CLIENT, 0))
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        return response.status, response.read().decode()
    except (OSError, http.client.HTTPException) as error:
        return 0, type(error).__name__
    finally:
        connection.close()


def rendered_web_arguments(run: Any) -> list[str]:
    """The PROXY protocol arguments of the `web` entry point in the Deployment the real chart
    renders from the program's values."""
    rendered = render_run(run)
    (objects,) = rendered.objects.values()
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    return [a for a in args if a.startswith("--entryPoints.web.proxyProtocol")]


@contextlib.contextmanager
def through_traefik(trusted: list[str]) -> Iterator[tuple[int, int, list[str]]]:
    """The stack with Traefik and PROXY protocol trusting `trusted`: yields the load balancer's
    port, Traefik's own port and the arguments it was started with."""
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    try:
        real.find_traefik()
    except real.TraefikUnavailable as error:
        pytest.skip(str(error))
    run = run_ok({"sticky-sessions:ingress": TRAEFIK | {"proxyProtocolTrustedCidrs": trusted}})
    arguments = rendered_web_arguments(run)
    found = {m["kind"]: m for m in map(manifest, kubernetes_objects(run))}
    with (
        pod() as pod_port,
        real.traefik(
            found["Ingress"], found["Service"], found["IngressClass"],
            [(LOOPBACK, pod_port)], arguments=arguments,
        ) as controller,
        haproxy_sending_proxy_v2(controller.port) as lb_port,
    ):  # fmt: skip
        yield lb_port, controller.port, arguments


def test_traefik_gives_the_pod_the_client_address_of_a_trusted_proxy_header() -> None:
    with through_traefik(["127.0.0.1/32"]) as (lb_port, _, arguments):
        status, body = ask(lb_port)
    assert arguments == ["--entryPoints.web.proxyProtocol.trustedIPs=127.0.0.1/32"]
    assert status == 200 and f"X-Real-Ip={CLIENT}" in body, body
    assert f"X-Forwarded-For={CLIENT}" in body


def test_traefik_ignores_the_proxy_header_of_a_sender_it_does_not_trust() -> None:
    """Measured: Traefik reads and drops the header of an untrusted sender (go-proxyproto's
    IGNORE policy) and serves the request as coming from that sender: the client address a
    header claims is never believed, but the request is not refused either."""
    with through_traefik(["192.0.2.0/24"]) as (lb_port, _, _):
        status, body = ask(lb_port)
    assert status == 200 and CLIENT not in body, body
    assert f"X-Real-Ip={LOOPBACK}" in body  # HAProxy's own address, the connection's


@contextlib.contextmanager
def through_ingress_nginx(trusted: list[str]) -> Iterator[tuple[int, int]]:
    """The stack with ingress-nginx and PROXY protocol trusting `trusted`, behind HAProxy: the
    real controller Lua in Debian's nginx, configured as the controller's template makes
    use-proxy-protocol and the proxy-real-ip-cidr the stack's values set. Yields the load
    balancer's port and nginx's own."""
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    if (reason := real_nginx.missing()) is not None:
        pytest.skip(reason)
    run = run_ok(
        {"sticky-sessions:ingress": {"proxyProtocol": True, "proxyProtocolTrustedCidrs": trusted}}
    )
    config = run.one("kubernetes:helm.sh/v3:Release").inputs["values"]["controller"]["config"]
    assert config["use-proxy-protocol"] == "true"
    cidrs = config["proxy-real-ip-cidr"].split(",")
    ingress = next(m for m in map(manifest, kubernetes_objects(run)) if m["kind"] == "Ingress")
    with (
        pod() as pod_port,
        real_nginx.ingress_nginx(ingress, [(LOOPBACK, pod_port)], proxy_protocol=cidrs) as nginx,
        haproxy_sending_proxy_v2(nginx.port) as lb_port,
    ):
        yield lb_port, nginx.port


def test_ingress_nginx_gives_the_pod_the_client_address_of_a_trusted_proxy_header() -> None:
    with through_ingress_nginx(["127.0.0.1/32"]) as (lb_port, nginx_port):
        status, body = ask(lb_port)
        direct, _ = ask(nginx_port)  # without a PROXY header: refused ("broken header")
    assert status == 200 and f"X-Real-Ip={CLIENT}" in body, body
    assert direct == 0


def test_ingress_nginx_ignores_the_address_of_a_sender_it_does_not_trust() -> None:
    with through_ingress_nginx(["192.0.2.0/24"]) as (lb_port, _):
        status, body = ask(lb_port)
    assert status == 200 and CLIENT not in body and f"X-Real-Ip={LOOPBACK}" in body, body


# --- what the stack declares ---------------------------------------------------------------


def traefik_spec(**ingress: Any) -> dict[str, Any]:
    config = IngressConfig.model_validate({"controller": "traefik"} | ingress)
    return traefik_values(config, ["10.0.0.0/16"] if config.proxy_protocol else [])


def test_both_entry_points_trust_the_network_the_stack_creates() -> None:
    run = run_ok(
        {
            "sticky-sessions:ingress": TRAEFIK,
            "sticky-sessions:network": {"mode": "create", "cidr": "10.42.0.0/16"},
            "sticky-sessions:cluster": {"plan": "standard"},
        }
    )
    values = run.one("kubernetes:helm.sh/v3:Release").inputs["values"]
    for entry in ("web", "websecure"):
        assert values["ports"][entry]["proxyProtocol"] == {"trustedIPs": ["10.42.0.0/16"]}
    annotations = values["service"]["annotations"]
    assert annotations["loadbalancer.openstack.org/proxy-protocol"] == "true"


def test_ingress_nginx_believes_the_header_only_from_the_trusted_networks() -> None:
    values = nginx_values(IngressConfig(proxy_protocol=True), ["10.42.0.0/16", "10.43.0.0/16"])
    config = values["controller"]["config"]
    assert config == {
        "use-proxy-protocol": "true",
        "proxy-real-ip-cidr": "10.42.0.0/16,10.43.0.0/16",
    }


@pytest.mark.parametrize(
    ("ingress", "network", "said"),
    [
        (TRAEFIK, {}, "sticky-sessions:ingress.proxyProtocolTrustedCidrs: not set"),
        (TRAEFIK | {"proxyProtocolTrustedCidrs": ["0.0.0.0/0"]}, {}, "trusts every sender"),
        (TRAEFIK | {"proxyProtocolTrustedCidrs": ["10.0.0.1/16"]}, {}, "no host bits"),
        (TRAEFIK | {"proxyProtocolTrustedCidrs": ["fd00::/8"]}, {}, "not an IPv4 network"),
        (TRAEFIK | {"proxyProtocolTrustedCidrs": ["10.0.0.0/8", "10.0.0.0/8"]}, {}, "twice"),
        ({"proxyProtocolTrustedCidrs": ["10.0.0.0/8"]}, {}, "proxyProtocol true only"),
        ({"loadBalancerIp": "10.0.0.5"}, {}, "not a public address"),
        ({"loadBalancerIp": "203.0.113.7"}, {}, "not a public address"),
        ({"loadBalancerIp": "2001:db8::1"}, {}, "not an IPv4 address"),
        ({"loadBalancerIp": "51.210.1.300"}, {}, "not an IPv4 address"),
        (
            {"serviceAnnotations": {"loadbalancer.openstack.org/keep-floatingip": "true"}},
            {},
            "set keepFloatingIp instead",
        ),
    ],
)
def test_what_the_load_balancer_cannot_do_is_refused_naming_the_key(
    ingress: dict, network: dict, said: str
) -> None:
    message = refused(
        {"sticky-sessions:ingress": ingress}
        | ({"sticky-sessions:network": network} if network else {})
    )
    assert said in message and "sticky-sessions:ingress." in message


@pytest.mark.parametrize("controller", ["ingress-nginx", "traefik"])
def test_the_floating_ip_is_kept_and_taken_by_each_chart_s_own_value(controller: str) -> None:
    ingress = {"controller": controller, "keepFloatingIp": True, "loadBalancerIp": "51.210.1.10"}
    run = run_ok({"sticky-sessions:ingress": ingress})
    rendered = render_run(run)
    (objects,) = rendered.objects.values()
    service = next(
        o for o in objects
        if o["kind"] == "Service" and o["spec"].get("type") == "LoadBalancer"
    )  # fmt: skip
    annotations = service["metadata"]["annotations"]
    assert annotations["loadbalancer.openstack.org/keep-floatingip"] == "true"
    assert service["spec"]["loadBalancerIP"] == "51.210.1.10"


def test_the_client_address_is_loopback_too() -> None:
    """The tests' client address is a loopback address of its own (Linux routes 127/8 to lo)."""
    with socket.socket() as probe:
        probe.bind((CLIENT, 0))
        assert probe.getsockname()[0] == CLIENT
