"""what-is-my-pod look-alike servers and real load balancers (HAProxy, nginx) on 127.0.0.1.

Used by the affinity-check tests and its benchmark. Every server started here is a context
manager that stops what it started, whatever happens inside the `with` block.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LOOPBACK = "127.0.0.1"
READY_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


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


def _handler(body: bytes, delay: float) -> type[BaseHTTPRequestHandler]:
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

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops bursts of connects (a 1 s SYN retransmit)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a load balancer closing an idle keep-alive connection is not an error here


@contextlib.contextmanager
def http_servers(bodies: Sequence[str], delay: float = 0.0) -> Iterator[list[int]]:
    """One HTTP server per body, each answering every GET with it; yields their ports."""
    servers = []
    try:
        for body in bodies:
            server = _QuietServer((LOOPBACK, 0), _handler(body.encode(), delay))
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
            servers.append(server)
        yield [server.server_address[1] for server in servers]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@contextlib.contextmanager
def what_is_my_pod(pods: Sequence[str], delay: float = 0.0) -> Iterator[list[int]]:
    """Look-alikes of ovhplatform/what-is-my-pod: each answers `Hello "<pod>"!`."""
    with http_servers([f'Hello "{pod}"!\n' for pod in pods], delay) as ports:
        yield ports


@contextlib.contextmanager
def _process(command: list[str], port: int, workdir: Path) -> Iterator[int]:
    log = (workdir / "stderr.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        wait_until_listening(port, process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def haproxy_config(port: int, backends: Sequence[int], cookie_name: str | None) -> str:
    """Round robin; with `cookie_name`, HAProxy inserts that cookie and honours it (sticky)."""
    cookie = f"    cookie {cookie_name} insert indirect nocache httponly\n" if cookie_name else ""
    servers = "".join(
        f"    server pod{i} {LOOPBACK}:{backend}"
        + (f" cookie pod{i}" if cookie_name else "")
        + "\n"
        for i, backend in enumerate(backends)
    )
    return (
        "global\n    maxconn 1024\n"
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n"
        "    timeout server 10s\n"
        f"frontend web\n    bind {LOOPBACK}:{port}\n    default_backend pods\n"
        f"backend pods\n    balance roundrobin\n{cookie}{servers}"
    )


@contextlib.contextmanager
def _configured(
    program: str, config_name: str, render: Callable[[Path, int], str], arguments: list[str]
) -> Iterator[int]:
    """Run `program` on a free port with the configuration `render(workdir, port)` writes in a
    temporary folder (`{workdir}` and `{config}` in `arguments` name them); yields the port."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"{program}-") as directory:
        workdir = Path(directory)
        config = workdir / config_name
        config.write_text(render(workdir, port))
        command = [shutil.which(program) or program] + [
            argument.format(workdir=workdir, config=config) for argument in arguments
        ]
        with _process(command, port, workdir):
            yield port


def haproxy(
    backends: Sequence[int], cookie_name: str | None
) -> contextlib.AbstractContextManager[int]:
    """A real HAProxy in front of `backends`; yields its port."""
    return _configured(
        "haproxy",
        "haproxy.cfg",
        lambda _, port: haproxy_config(port, backends, cookie_name),
        ["-db", "-f", "{config}"],
    )


def nginx_config(workdir: Path, port: int, backends: Sequence[int], cookie_name: str | None) -> str:
    """Round robin; with `cookie_name`, cookie affinity the way ingress-nginx does it: a random
    key in a cookie set on the first response, consistently hashed to a backend."""
    temp_paths = "".join(
        f"    {kind}_temp_path {workdir}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    servers = "".join(f"        server {LOOPBACK}:{backend};\n" for backend in backends)
    if cookie_name:
        variable = f"$cookie_{cookie_name.replace('-', '_')}"
        affinity = (
            f'    map {variable} $route_key {{ "" $request_id; default {variable}; }}\n'
            f'    map {variable} $set_route {{ "" "{cookie_name}=$request_id; Path=/; '
            f'Max-Age=172800; HttpOnly"; default ""; }}\n'
        )
        balance, set_cookie = (
            "        hash $route_key consistent;\n",
            "add_header Set-Cookie $set_route;",
        )
    else:
        affinity, balance, set_cookie = "", "", ""
    return (
        f"worker_processes 1;\ndaemon off;\npid {workdir}/nginx.pid;\n"
        f"error_log {workdir}/error.log;\nevents {{ worker_connections 1024; }}\n"
        f"http {{\n    access_log off;\n{temp_paths}{affinity}"
        f"    upstream pods {{\n{balance}{servers}        keepalive 16;\n    }}\n"
        f"    server {{\n        listen {LOOPBACK}:{port};\n"
        f"        location / {{ proxy_pass http://pods; proxy_http_version 1.1; "
        f'proxy_set_header Connection ""; {set_cookie} }}\n    }}\n}}\n'
    )


def nginx(
    backends: Sequence[int], cookie_name: str | None
) -> contextlib.AbstractContextManager[int]:
    """A real nginx in front of `backends`; yields its port."""
    return _configured(
        "nginx",
        "nginx.conf",
        lambda workdir, port: nginx_config(workdir, port, backends, cookie_name),
        ["-p", "{workdir}", "-c", "{config}", "-e", "{workdir}/error.log"],
    )


LOAD_BALANCERS = {"haproxy": haproxy, "nginx": nginx}
