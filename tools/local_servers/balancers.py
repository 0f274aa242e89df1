"""Real load balancers on 127.0.0.1 (HAProxy, nginx) in front of look-alike pods, configured as
the project's models of the controllers, and able to take a pod out or put it back while
clients run. Every one is a context manager that stops what it started.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.local_servers.hostile import Certificates
from tools.local_servers.pods import LOOPBACK, READY_TIMEOUT, free_port, wait_until_listening


@contextlib.contextmanager
def _process(command: list[str], port: int, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` until it listens on `port`; stop it whatever happens in the block."""
    log = (workdir / "stderr.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        wait_until_listening(port, process)
        yield process
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
        # 1,000 watch sessions hold 1,000 client connections besides those to the pods.
        "global\n    maxconn 4096\n"
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


def nginx_config(
    workdir: Path,
    port: int,
    backends: Sequence[int],
    cookie_name: str | None,
    tls: Certificates | None = None,
    generation: int | None = None,
) -> str:
    """Round robin; with `cookie_name`, cookie affinity the way ingress-nginx does it: a random
    key in a cookie set on the first response, consistently hashed to a backend. With `tls`,
    nginx terminates TLS with that certificate and the cookie is Secure, as ingress-nginx sets
    it for an Ingress that serves HTTPS. With `generation`, GET /.generation answers it: how a
    caller knows that a reloaded configuration serves."""
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
            f'Max-Age=172800; HttpOnly{"; Secure" if tls else ""}"; default ""; }}\n'
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
        f"    server {{\n        listen {LOOPBACK}:{port}{' ssl' if tls else ''};\n"
        + (
            f"        ssl_certificate {tls.certificate};\n        ssl_certificate_key {tls.key};\n"
            if tls
            else ""
        )
        + (
            f'        location = /.generation {{ return 200 "{generation}"; }}\n'
            if generation is not None
            else ""
        )
        + f"        location / {{ proxy_pass http://pods; proxy_http_version 1.1; "
        f'proxy_set_header Connection ""; {set_cookie} }}\n    }}\n}}\n'
    )


def nginx(
    backends: Sequence[int], cookie_name: str | None, tls: Certificates | None = None
) -> contextlib.AbstractContextManager[int]:
    """A real nginx in front of `backends` (over TLS with `tls`); yields its port."""
    return _configured(
        "nginx",
        "nginx.conf",
        lambda workdir, port: nginx_config(workdir, port, backends, cookie_name, tls),
        ["-p", "{workdir}", "-c", "{config}", "-e", "{workdir}/error.log"],
    )


LOAD_BALANCERS = {"haproxy": haproxy, "nginx": nginx}


@contextlib.contextmanager
def static_pods(pods: Sequence[str]) -> Iterator[list[int]]:
    """What-is-my-pod look-alikes served by one HAProxy, one port per pod, each answering
    `Hello "<pod>"!` to every request: a steady server for load that costs next to no CPU
    (the Python look-alikes take most of a core at 1,000 requests a second). Yields the ports."""
    ports = [free_port() for _ in pods]
    with tempfile.TemporaryDirectory(prefix="static-pods-") as directory:
        workdir = Path(directory)
        sections = []
        for index, (pod, port) in enumerate(zip(pods, ports, strict=True)):
            (workdir / f"pod{index}.txt").write_text(f'Hello "{pod}"!\n')
            sections.append(
                f"frontend pod{index}\n    bind {LOOPBACK}:{port}\n"
                f"    http-request return status 200 content-type text/plain "
                f"file {workdir}/pod{index}.txt\n"
            )
        config = workdir / "haproxy.cfg"
        config.write_text(
            "global\n    maxconn 4096\ndefaults\n    mode http\n    timeout connect 2s\n"
            "    timeout client 10s\n    timeout server 10s\n" + "".join(sections)
        )
        command = [shutil.which("haproxy") or "haproxy", "-db", "-f", str(config)]
        with _process(command, ports[0], workdir):
            for port in ports[1:]:
                wait_until_listening(port, None)
            yield ports


# --- load balancers that change under a running check: take a pod out, put it back ------------


@dataclass
class Balancer:
    """A running HAProxy or nginx whose pods can be taken out and put back while clients run."""

    kind: str
    port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    backends: list[int]
    cookie_name: str
    active: list[bool]
    generation: int = 0  # of nginx's configuration

    def _haproxy(self, command: str) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as admin:
            admin.settimeout(5)
            admin.connect(str(self.workdir / "admin.sock"))
            admin.sendall(command.encode() + b"\n")
            admin.recv(4096)

    def _reload_nginx(self) -> None:
        live = [b for b, on in zip(self.backends, self.active, strict=True) if on]
        self.generation += 1
        config = nginx_config(
            self.workdir, self.port, live or self.backends, self.cookie_name, None, self.generation
        )
        if not live:  # nginx refuses an empty upstream: every server marked down answers 502
            for backend in self.backends:
                config = config.replace(
                    f"server {LOOPBACK}:{backend};", f"server {LOOPBACK}:{backend} down;"
                )
        (self.workdir / "nginx.conf").write_text(config)
        self.process.send_signal(signal.SIGHUP)
        self._wait_for_generation()

    def _wait_for_generation(self) -> None:
        """Until a new connection is served by the reloaded configuration: the master starts
        new workers and retires the old ones, each in its own time."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                with socket.create_connection((LOOPBACK, self.port), timeout=1) as connection:
                    connection.sendall(
                        b"GET /.generation HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n"
                    )
                    answer = b""
                    while chunk := connection.recv(4096):
                        answer += chunk
                if answer.endswith(b"\r\n\r\n" + str(self.generation).encode()):
                    return
            time.sleep(0.01)
        raise TimeoutError(f"nginx did not serve configuration {self.generation} in time")

    def set_all(self, active: bool) -> None:
        """Every pod in or out of rotation at once (nginx reloads once)."""
        if self.kind == "haproxy":
            for index in range(len(self.backends)):
                self.set_active(index, active)
            return
        self.active = [active] * len(self.backends)
        self._reload_nginx()

    def set_active(self, index: int, active: bool) -> None:
        self.active[index] = active
        if self.kind == "haproxy":
            self._haproxy(f"set server pods/pod{index} state {'ready' if active else 'maint'}")
        else:
            self._reload_nginx()


@contextlib.contextmanager
def balancer(
    kind: str, backends: Sequence[int], cookie_name: str, inactive: Sequence[int] = ()
) -> Iterator[Balancer]:
    """HAProxy (cookie insert, runtime API on an admin socket) or nginx (cookie + consistent
    hash, reloaded with a rewritten configuration) in front of `backends`; the pods at the
    `inactive` indexes start out of rotation."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"{kind}-") as directory:
        workdir = Path(directory)
        active = [index not in inactive for index in range(len(backends))]
        if kind == "haproxy":
            config = haproxy_config(port, backends, cookie_name).replace(
                "global\n", f"global\n    stats socket {workdir}/admin.sock mode 600 level admin\n"
            )
            for index in inactive:
                config = config.replace(f" cookie pod{index}\n", f" cookie pod{index} disabled\n")
            (workdir / "haproxy.cfg").write_text(config)
            command = [
                shutil.which("haproxy") or "haproxy",
                "-db",
                "-f",
                str(workdir / "haproxy.cfg"),
            ]
        else:
            live = [b for b, on in zip(backends, active, strict=True) if on]
            (workdir / "nginx.conf").write_text(
                nginx_config(workdir, port, live, cookie_name, None, 0)
            )
            command = [
                shutil.which("nginx") or "nginx", "-p", str(workdir), "-c",
                str(workdir / "nginx.conf"), "-e", str(workdir / "error.log"),
            ]  # fmt: skip
        with _process(command, port, workdir) as process:
            yield Balancer(kind, port, workdir, process, list(backends), cookie_name, active)
