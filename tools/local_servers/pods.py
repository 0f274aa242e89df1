"""what-is-my-pod look-alikes on 127.0.0.1: one HTTP server per pod, each answering every GET
with `Hello "<pod>"!`, and the helpers every local server shares (a free port, waiting for one
to listen). Each is a context manager that stops what it started, whatever happens in the block.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK = "127.0.0.1"
READY_TIMEOUT = 10.0


_HANDED_OUT: set[int] = set()
_HANDING_OUT = threading.Lock()


def free_port() -> int:
    """A port nothing listens on now, and never one this process handed out before: servers
    started side by side in threads must not be given the same one."""
    with _HANDING_OUT:
        while True:
            with socket.socket() as probe:
                probe.bind((LOOPBACK, 0))
                port = int(probe.getsockname()[1])
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port


def wait_until_listening(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    """Bounded wait for a TCP listener; fails early if the process that should listen died."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"{process.args!r} exited with {process.returncode} before listening on {port}"
            )
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {LOOPBACK}:{port} within {READY_TIMEOUT} s")


class Ports(list[int]):
    """The servers' ports, and how many GETs they have answered so far (all together)."""

    def __init__(self, ports: Sequence[int]) -> None:
        super().__init__(ports)
        self.answered = 0
        self._lock = threading.Lock()

    def note_answer(self) -> None:
        with self._lock:
            self.answered += 1


def _handler(body: bytes, delay: float, ports: Ports) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real app behind a proxy
        disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK wait

        def do_GET(self) -> None:
            if delay:
                time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            ports.note_answer()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops bursts of connects (a 1 s SYN retransmit)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a load balancer closing an idle keep-alive connection is not an error here


@contextlib.contextmanager
def http_servers(bodies: Sequence[str], delay: float = 0.0) -> Iterator[Ports]:
    """One HTTP server per body, each answering every GET with it; yields their ports."""
    servers = []
    ports = Ports([])
    try:
        for body in bodies:
            server = QuietServer((LOOPBACK, 0), _handler(body.encode(), delay, ports))
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
            servers.append(server)
            ports.append(server.server_address[1])
        yield ports
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@contextlib.contextmanager
def what_is_my_pod(pods: Sequence[str], delay: float = 0.0) -> Iterator[Ports]:
    """Look-alikes of ovhplatform/what-is-my-pod: each answers `Hello "<pod>"!`."""
    with http_servers([f'Hello "{pod}"!\n' for pod in pods], delay) as ports:
        yield ports
