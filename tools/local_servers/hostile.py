"""Servers that misbehave on 127.0.0.1, for the checker's hostile tests: raw bytes or endless
bodies on every connection, and HTTPS with a certificate from a throwaway CA (openssl)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tools.local_servers.pods import LOOPBACK

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


def silent_after(
    answered: int, answer: bytes, hold: float = 30.0
) -> Callable[[socket.socket], None]:
    """Answers the first `answered` connections with `answer`, then holds every later one open
    without a word, until the client hangs up or `hold` seconds have passed."""
    count = 0
    lock = threading.Lock()

    def write(connection: socket.socket) -> None:
        nonlocal count
        with lock:
            count += 1
            mine = count
        if mine <= answered:
            connection.sendall(answer)
            return
        connection.settimeout(hold)
        with contextlib.suppress(OSError):
            connection.recv(1)  # returns when the client hangs up; raises at `hold`

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
