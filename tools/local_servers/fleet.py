"""A Deployment's pods as look-alikes on the loopback network that a test can change as
Kubernetes would: a pod added (a scale-up, a rollout's surge pod), a pod answering HTTP 500, a
pod whose process is gone (its port refuses connections), and the endpoints the controller would
then list. Each pod has its own loopback address (127.0.0.10, .11, ...), as pods have their own
IP: Traefik keeps one server per address (its ingress-nginx provider's build.go skips an address
it has seen)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tools.local_servers.pods import QuietServer

FIRST_ADDRESS = 10  # 127.0.0.10 and up: clear of 127.0.0.1, where the balancers listen


@dataclass
class Pod:
    name: str
    server: QuietServer
    failing: bool = False  # answers HTTP 500 instead of `Hello "<name>"!`
    stopped: bool = False

    @property
    def endpoint(self) -> tuple[str, int]:
        address, port = self.server.server_address[:2]
        return str(address), int(port)


def _handler(pod: Pod) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            if pod.stopped:  # a kept-alive connection outlives the listener: hang up, no answer
                self.close_connection = True
                return
            status, body = (
                (500, b"boom\n") if pod.failing else (200, f'Hello "{pod.name}"!\n'.encode())
            )
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@dataclass
class Fleet:
    pods: dict[str, Pod] = field(default_factory=dict)

    def add(self, name: str) -> Pod:
        address = f"127.0.0.{FIRST_ADDRESS + len(self.pods)}"
        server = QuietServer((address, 0), BaseHTTPRequestHandler)
        pod = Pod(name, server)
        server.RequestHandlerClass = _handler(pod)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self.pods[name] = pod
        return pod

    def stop(self, name: str) -> None:
        """The pod's process is gone: its port refuses connections (it stays listed until the
        controller is told otherwise)."""
        pod = self.pods[name]
        if not pod.stopped:
            pod.stopped = True
            pod.server.shutdown()
            pod.server.server_close()

    def endpoints(self, *names: str) -> list[tuple[str, int]]:
        """(address, port) of the named pods, as an EndpointSlice would list them."""
        return [self.pods[name].endpoint for name in names]

    def close(self) -> None:
        for name in list(self.pods):
            self.stop(name)


@contextlib.contextmanager
def fleet(*names: str) -> Iterator[Fleet]:
    pods = Fleet()
    try:
        for name in names:
            pods.add(name)
        yield pods
    finally:
        pods.close()
