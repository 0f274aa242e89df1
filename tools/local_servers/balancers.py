"""what-is-my-pod look-alike servers and real load balancers (HAProxy, nginx) on 127.0.0.1.

Used by the affinity-check tests and its benchmark. Every server started here is a context
manager that stops what it started, whatever happens inside the `with` block.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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


def nginx_config(
    workdir: Path,
    port: int,
    backends: Sequence[int],
    cookie_name: str | None,
    tls: Certificates | None = None,
) -> str:
    """Round robin; with `cookie_name`, cookie affinity the way ingress-nginx does it: a random
    key in a cookie set on the first response, consistently hashed to a backend. With `tls`,
    nginx terminates TLS with that certificate and the cookie is Secure, as ingress-nginx sets
    it for an Ingress that serves HTTPS."""
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


# A hostile server's answer to each connection: raw bytes, or a function that writes to the
# socket (for endless or huge bodies); bounded either way.
RawAnswer = bytes | Callable[[socket.socket], None]
HOSTILE_CAP_BYTES = 64 * 1024 * 1024  # what a "never-ending" answer sends at the most


def endless_body(chunk: bytes = b"x" * 65536) -> Callable[[socket.socket], None]:
    """A 200 whose body never says where it ends; stops at HOSTILE_CAP_BYTES or when the client
    hangs up."""

    def write(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        sent = 0
        while sent < HOSTILE_CAP_BYTES:
            connection.sendall(chunk)
            sent += len(chunk)

    return write


@contextlib.contextmanager
def raw_server(answer: RawAnswer, tls: ssl.SSLContext | None = None) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that reads a request head and answers `answer`, whatever it
    is, then closes; with `tls`, over TLS. Yields its port."""
    listener = socket.create_server((LOOPBACK, 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve(connection: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError), connection:
            connection.settimeout(5)
            if tls is not None:
                connection = tls.wrap_socket(connection, server_side=True)
            received = b""
            while b"\r\n\r\n" not in received and len(received) < 65536:
                data = connection.recv(4096)
                if not data:
                    return
                received += data
            if callable(answer):
                answer(connection)
            else:
                connection.sendall(answer)

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the throwaway CA's certificate (PEM)
    certificate: Path  # the server's, for 127.0.0.1 and localhost, signed by the CA
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate, self.key)
        return context


def throwaway_ca(directory: Path, name: str = "sticky-test") -> Certificates:
    """A CA made for one test and a server certificate it signs, with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise FileNotFoundError("openssl is not installed (apt-get install openssl)")
    ca, ca_key = directory / f"{name}-ca.pem", directory / f"{name}-ca.key"
    certificate, key = directory / f"{name}-server.pem", directory / f"{name}-server.key"
    request, extensions = directory / f"{name}.csr", directory / f"{name}.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    ec_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for command in (
        [openssl, "req", "-x509", *ec_key, "-keyout", ca_key, "-out", ca, "-days", "1",
         "-subj", f"/CN={name} CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        [openssl, "req", *ec_key, "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1"],
        [openssl, "x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-out", certificate, "-days", "1", "-extfile", extensions],
    ):  # fmt: skip
        subprocess.run([str(part) for part in command], check=True, capture_output=True)
    return Certificates(ca, certificate, key)


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

    def _haproxy(self, command: str) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as admin:
            admin.settimeout(5)
            admin.connect(str(self.workdir / "admin.sock"))
            admin.sendall(command.encode() + b"\n")
            admin.recv(4096)

    def _reload_nginx(self) -> None:
        live = [b for b, on in zip(self.backends, self.active, strict=True) if on]
        config = nginx_config(self.workdir, self.port, live or self.backends, self.cookie_name)
        if not live:  # nginx refuses an empty upstream: every server marked down answers 502
            for backend in self.backends:
                config = config.replace(
                    f"server {LOOPBACK}:{backend};", f"server {LOOPBACK}:{backend} down;"
                )
        (self.workdir / "nginx.conf").write_text(config)
        self.process.send_signal(signal.SIGHUP)
        time.sleep(0.5)  # the master starts new workers and retires the old ones

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
            (workdir / "nginx.conf").write_text(nginx_config(workdir, port, live, cookie_name))
            command = [
                shutil.which("nginx") or "nginx", "-p", str(workdir), "-c",
                str(workdir / "nginx.conf"), "-e", str(workdir / "error.log"),
            ]  # fmt: skip
        with _process(command, port, workdir) as process:
            yield Balancer(kind, port, workdir, process, list(backends), cookie_name, active)
