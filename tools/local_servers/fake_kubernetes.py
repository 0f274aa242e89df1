"""A small Kubernetes API on 127.0.0.1 for the real Traefik's `kubernetesIngressNGINX` provider:
list and watch of Ingresses, IngressClasses, Services, EndpointSlices, Secrets and ConfigMaps,
served from the program's own objects, with EndpointSlices that point at local pods and change
through the watch.

What client-go's informers need, and nothing more: a list with a resourceVersion, a watch that
streams JSON events, and, when the client asks for `sendInitialEvents`, the objects as ADDED
events followed by a BOOKMARK annotated `k8s.io/initial-events-end: "true"` (without it the
informers never sync).
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

from tools.local_servers.pods import LOOPBACK, QuietServer

# path of the collection -> (apiVersion, list kind)
COLLECTIONS = {
    "/apis/networking.k8s.io/v1/ingresses": ("networking.k8s.io/v1", "IngressList"),
    "/apis/networking.k8s.io/v1/ingressclasses": ("networking.k8s.io/v1", "IngressClassList"),
    "/api/v1/services": ("v1", "ServiceList"),
    "/apis/discovery.k8s.io/v1/endpointslices": ("discovery.k8s.io/v1", "EndpointSliceList"),
    "/api/v1/secrets": ("v1", "SecretList"),
    "/api/v1/configmaps": ("v1", "ConfigMapList"),
}
KIND_COLLECTION = {
    "Ingress": "/apis/networking.k8s.io/v1/ingresses",
    "IngressClass": "/apis/networking.k8s.io/v1/ingressclasses",
    "Service": "/api/v1/services",
    "EndpointSlice": "/apis/discovery.k8s.io/v1/endpointslices",
    "Secret": "/api/v1/secrets",
    "ConfigMap": "/api/v1/configmaps",
}


class FakeKubernetes:
    """The objects by collection, a resourceVersion counter, and the open watches."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version = 1
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
            path: {} for path in COLLECTIONS
        }
        self.watches: dict[str, list[queue.Queue[dict[str, Any] | None]]] = {
            path: [] for path in COLLECTIONS
        }

    def apply(self, obj: Mapping[str, Any]) -> None:
        """Create or replace an object; open watches get ADDED or MODIFIED."""
        path = KIND_COLLECTION[obj["kind"]]
        body = json.loads(json.dumps(obj))
        metadata = body.setdefault("metadata", {})
        key = (metadata.get("namespace", ""), metadata["name"])
        with self.lock:
            self.version += 1
            metadata["resourceVersion"] = str(self.version)
            metadata.setdefault("uid", f"uid-{obj['kind']}-{key[0]}-{key[1]}")
            kind = "MODIFIED" if key in self.objects[path] else "ADDED"
            self.objects[path][key] = body
            for watcher in self.watches[path]:
                watcher.put({"type": kind, "object": body})

    def listed(self, path: str, query: Mapping[str, list[str]]) -> dict[str, Any]:
        api_version, kind = COLLECTIONS[path]
        namespace = query.get("namespace", [None])[0]
        with self.lock:
            items = [o for (ns, _), o in self.objects[path].items() if namespace in (None, ns)]
            return {
                "apiVersion": api_version,
                "kind": kind,
                "metadata": {"resourceVersion": str(self.version)},
                "items": items,
            }

    def watch(self, path: str, initial: bool) -> tuple[queue.Queue[dict[str, Any] | None], list]:
        events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        with self.lock:
            first = [{"type": "ADDED", "object": o} for o in self.objects[path].values()]
            if initial:
                api_version, kind = COLLECTIONS[path]
                first.append(
                    {
                        "type": "BOOKMARK",
                        "object": {
                            "apiVersion": api_version,
                            "kind": kind.removesuffix("List"),
                            "metadata": {
                                "resourceVersion": str(self.version),
                                "annotations": {"k8s.io/initial-events-end": "true"},
                            },
                        },
                    }
                )
            else:
                first = []
            self.watches[path].append(events)
        return events, first

    def close(self) -> None:
        with self.lock:
            for watchers in self.watches.values():
                for watcher in watchers:
                    watcher.put(None)


def _handler(api: FakeKubernetes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            path = url.path
            # /api/v1/namespaces/<ns>/services -> /api/v1/services?namespace=<ns>
            parts = path.split("/")
            if "namespaces" in parts and len(parts) > parts.index("namespaces") + 2:
                at = parts.index("namespaces")
                query["namespace"] = [parts[at + 1]]
                path = "/".join(parts[:at] + parts[at + 2 :])
            if path == "/version":
                self._json(200, {"major": "1", "minor": "34", "gitVersion": "v1.34.0"})
                return
            if path not in COLLECTIONS:
                self._json(404, {"kind": "Status", "status": "Failure", "code": 404})
                return
            if query.get("watch", ["false"])[0] not in ("true", "1"):
                self._json(200, api.listed(path, query))
                return
            initial = query.get("sendInitialEvents", ["false"])[0] == "true"
            events, first = api.watch(path, initial)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for event in first:
                    self._chunk(event)
                while True:
                    try:
                        event = events.get(timeout=30)
                    except queue.Empty:
                        break  # the client watches again
                    if event is None:
                        break
                    self._chunk(event)
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                with api.lock, contextlib.suppress(ValueError):
                    api.watches[path].remove(events)
            self.close_connection = True

        def _chunk(self, event: dict[str, Any]) -> None:
            data = json.dumps(event).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def endpoint_slice(
    service: Mapping[str, Any], endpoints: Sequence[tuple[str, int]], port_name: str
) -> dict[str, Any]:
    """The EndpointSlice of `service` listing `endpoints` as ready; its port named like the
    Service's (Traefik matches them by name)."""
    metadata = service["metadata"]
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{metadata['name']}-slice",
            "namespace": metadata.get("namespace", "default"),
            "labels": {"kubernetes.io/service-name": metadata["name"]},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [address], "conditions": {"ready": True, "serving": True}}
            for address, _ in endpoints
        ],
        "ports": [
            {"name": port_name, "port": port, "protocol": "TCP"} for _, port in endpoints[:1]
        ],
    }


@contextlib.contextmanager
def fake_kubernetes(objects: Sequence[Mapping[str, Any]]) -> Iterator[tuple[FakeKubernetes, int]]:
    api = FakeKubernetes()
    for obj in objects:
        api.apply(obj)
    server = QuietServer((LOOPBACK, 0), _handler(api))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield api, int(server.server_address[1])
    finally:
        api.close()
        server.shutdown()
        server.server_close()
