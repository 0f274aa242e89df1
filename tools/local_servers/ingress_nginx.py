"""The real ingress-nginx v1.15.1 balancer on 127.0.0.1: Debian's nginx with the Lua module,
running the controller's own Lua (vendored whole in third_party/, digests checked at use), fed
the backends the controller would post for the program's Ingress and Service.

The nginx.conf follows the controller's template (rootfs/etc/nginx/template/nginx.tmpl) for one
HTTP server: its shared dictionaries, the init and init_worker phases, `balancer_by_lua` in the
`upstream_balancer`, the variables the Lua reads in the location, `proxy_next_upstream`, and the
status server whose `/configuration/backends` takes the backends as the controller POSTs them.
A pod coming or going is a new POST, and `post_backends` waits until the worker has synced it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from configuration.cli import PROJECT_DIR
from tools.local_servers.controller_backends import backends, upstream_name
from tools.local_servers.hostile import Certificates
from tools.local_servers.pods import LOOPBACK, READY_TIMEOUT, free_port, wait_until_listening

VENDORED = PROJECT_DIR / "third_party" / "ingress-nginx-lua-v1.15.1"
BUILD_CACHE = PROJECT_DIR / ".cache" / "ingress-nginx-lua"
# Debian bookworm's packages: nginx, libnginx-mod-http-lua (with its NDK module),
# lua-resty-core, lua-resty-lrucache, lua-cjson.
DEBIAN_PACKAGES = ("nginx", "libnginx-mod-http-lua", "lua-resty-core", "lua-resty-lrucache",
                   "lua-cjson")  # fmt: skip
NGINX_MODULES = Path("/usr/lib/nginx/modules")
DEBIAN_LUA_PATH = "/usr/share/lua/5.1/?.lua"
DEBIAN_LUA_CPATH = "/usr/lib/x86_64-linux-gnu/lua/5.1/?.so"
SYNC_TIMEOUT = 20.0  # the balancer syncs every second, and only a POST of a later second


class Unavailable(Exception):
    """What this machine lacks to run the real balancer, said exactly (tests skip with it)."""


def missing() -> str | None:
    """Why the real balancer cannot run here, or None."""
    if shutil.which("nginx") is None:
        return "nginx is not installed (apt-get install " + " ".join(DEBIAN_PACKAGES) + ")"
    for module in ("ndk_http_module.so", "ngx_http_lua_module.so"):
        if not (NGINX_MODULES / module).is_file():
            return f"{NGINX_MODULES / module} is missing (apt-get install libnginx-mod-http-lua)"
    for name, path in (
        ("lua-resty-core", "/usr/share/lua/5.1/resty/core.lua"),
        ("lua-resty-lrucache", "/usr/share/lua/5.1/resty/lrucache.lua"),
        ("lua-cjson", "/usr/lib/x86_64-linux-gnu/lua/5.1/cjson.so"),
    ):
        if not Path(path).is_file():
            return f"{path} is missing (apt-get install {name})"
    if shutil.which("gcc") is None:
        return "gcc is not installed to build librestychash (apt-get install gcc)"
    return None


def check_digests() -> None:
    """Every vendored file is the one its SHA256SUMS line names."""
    for line in (VENDORED / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        actual = hashlib.sha256((VENDORED / name).read_bytes()).hexdigest()
        if actual != digest:
            raise Unavailable(f"third_party/{VENDORED.name}/{name} does not match SHA256SUMS")


_BUILDING = threading.Lock()


def restychash() -> Path:
    """lua-resty-balancer's C library, built with gcc once per source digest (one build at a
    time in a process; another process's build lands whole, under its own partial name)."""
    sources = [VENDORED / "csrc" / "chash.c", VENDORED / "csrc" / "chash.h"]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()[:16]
    library = BUILD_CACHE / digest / "librestychash.so"
    with _BUILDING:
        if library.is_file():
            return library
        library.parent.mkdir(parents=True, exist_ok=True)
        partial = library.with_suffix(f".{os.getpid()}.partial")
        subprocess.run(
            ["gcc", "-O3", "-fPIC", "-shared", "-o", str(partial), str(sources[0])],
            check=True,
            capture_output=True,
        )
        partial.replace(library)
    return library


@dataclass(frozen=True)
class Route:
    """Where the Ingress sends requests: its host ("_" without one), its path, its upstream."""

    server_name: str
    location_path: str
    upstream: str
    namespace: str
    ingress_name: str
    service_name: str
    service_port: int


def nginx_config(
    workdir: Path,
    port: int,
    status_port: int,
    library: Path,
    route: Route,
    tls: Certificates | None,
    proxy_protocol: Sequence[str] | None = None,
) -> str:
    """The controller template's parts that balancing touches, for one server and location;
    with `proxy_protocol` (the trusted networks), what its use-proxy-protocol and
    proxy-real-ip-cidr make of the listener and of the real IP module."""
    lua_path = ";".join(
        [
            f"{VENDORED}/ingress-nginx/?.lua",
            f"{VENDORED}/resty/?.lua",
            DEBIAN_LUA_PATH,
        ]
    )
    temp_paths = "".join(
        f"    {kind}_temp_path {workdir}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    listen = f"{LOOPBACK}:{port}" + (" ssl" if tls else "")
    real_ip = ""
    if proxy_protocol is not None:
        listen += " proxy_protocol"
        real_ip = "    real_ip_header proxy_protocol;\n    real_ip_recursive on;\n" + "".join(
            f"    set_real_ip_from {cidr};\n" for cidr in proxy_protocol
        )
    certificate = (
        f"        ssl_certificate {tls.certificate};\n        ssl_certificate_key {tls.key};\n"
        if tls
        else ""
    )
    return f"""load_module {NGINX_MODULES}/ndk_http_module.so;
load_module {NGINX_MODULES}/ngx_http_lua_module.so;
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp_paths}{real_ip}    lua_package_path "{lua_path};;";
    lua_package_cpath "{library.parent}/?.so;{DEBIAN_LUA_CPATH};;";
    lua_shared_dict configuration_data 20M;
    lua_shared_dict certificate_data 20M;
    lua_shared_dict certificate_servers 5M;
    lua_shared_dict ocsp_response_cache 5M;
    lua_shared_dict balancer_ewma 10M;
    lua_shared_dict balancer_ewma_last_touched_at 10M;
    lua_shared_dict balancer_ewma_locks 1M;
    lua_shared_dict luaconfig 5m;
    init_by_lua_block {{
        local cjson = require("cjson.safe")
        local file = io.open("{workdir}/cfg.json", "r")
        local config = cjson.decode(file:read("*a"))
        file:close()
        ngx.shared.luaconfig:set("enablemetrics", false)
        ngx.shared.luaconfig:set("use_forwarded_headers", false)
        lua_ingress = require("lua_ingress")
        lua_ingress.set_config(config)
        configuration = require("configuration")
        configuration.prohibited_localhost_port = config.listen_ports.status_port
        balancer = require("balancer")
        certificate = require("certificate")
    }}
    init_worker_by_lua_block {{
        require("lua_ingress").init_worker()
        require("balancer").init_worker()
    }}
    upstream upstream_balancer {{
        server 0.0.0.1; # placeholder
        balancer_by_lua_file {VENDORED}/ingress-nginx/nginx/ngx_conf_balancer.lua;
        keepalive 320;
        keepalive_time 1h;
        keepalive_timeout 60s;
        keepalive_requests 10000;
    }}
    server {{
        server_name {route.server_name};
        listen {listen};
{certificate}        location {route.location_path} {{
            set $namespace      "{route.namespace}";
            set $ingress_name   "{route.ingress_name}";
            set $service_name   "{route.service_name}";
            set $service_port   "{route.service_port}";
            set $location_path  "{route.location_path}";
            set $force_ssl_redirect "false";
            set $ssl_redirect "true";
            set $force_no_ssl_redirect "false";
            set $preserve_trailing_slash "false";
            set $use_port_in_redirects "false";
            rewrite_by_lua_file {VENDORED}/ingress-nginx/nginx/ngx_rewrite.lua;
            log_by_lua_block {{ require("balancer").log() }}
            port_in_redirect off;
            set $balancer_ewma_score -1;
            set $proxy_upstream_name "{route.upstream}";
            set $proxy_host          $proxy_upstream_name;
            set $pass_access_scheme  $scheme;
            set $pass_server_port    $server_port;
            set $best_http_host      $http_host;
            set $pass_port           $pass_server_port;
            set $proxy_alternative_upstream_name "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Real-IP $remote_addr;
            proxy_connect_timeout 5s;
            proxy_read_timeout 60s;
            proxy_next_upstream error timeout;
            proxy_next_upstream_timeout 0;
            proxy_next_upstream_tries 3;
            proxy_pass http://upstream_balancer;
        }}
    }}
    server {{
        listen {LOOPBACK}:{status_port};
        set $proxy_upstream_name "internal";
        keepalive_timeout 0;
        location /configuration {{
            client_max_body_size 21M;
            client_body_buffer_size 21M;
            proxy_buffering off;
            content_by_lua_file {VENDORED}/ingress-nginx/nginx/ngx_conf_configuration.lua;
        }}
        location /.synced {{
            content_by_lua_block {{
                local synced = require("balancer").get_balancer_by_upstream_name(ngx.var.arg_name)
                local nodes = {{}}
                if synced then
                    for node in pairs(synced.instance.nodes) do table.insert(nodes, node) end
                end
                table.sort(nodes)
                ngx.say(table.concat(nodes, ","))
            }}
        }}
    }}
}}
"""


@dataclass
class IngressNginx:
    """A running real balancer: `port` serves the app, `post_backends` changes the pods."""

    port: int
    status_port: int
    workdir: Path
    route: Route
    ingress: Mapping[str, Any]

    def set_endpoints(self, endpoints: Sequence[tuple[str, int]]) -> None:
        """The pods changed: the controller POSTs the backends with their endpoints now."""
        self.post_backends(backends(self.ingress, endpoints))

    def post_backends(self, backends: Sequence[Mapping[str, Any]]) -> None:
        """POST them as the controller does, then wait until the worker balances over them.
        The balancer syncs a POST only once its whole-second timestamp is later than the last
        one it synced, so a change within the same second is retried in the next."""
        body = json.dumps(list(backends)).encode()
        [ours] = [b for b in backends if b["name"] == self.route.upstream]
        wanted = ",".join(sorted(f"{e['address']}:{e['port']}" for e in ours.get("endpoints", [])))
        deadline = time.monotonic() + SYNC_TIMEOUT
        while time.monotonic() < deadline:
            # The status server closes each connection (keepalive_timeout 0); on a busy machine
            # one may be reset: that is a try again, not a failure.
            with contextlib.suppress(OSError):
                self._status("/configuration/backends", body)
            posted = int(time.time())
            # Synced within the next second's timer, or posted in a second already synced.
            while time.monotonic() < deadline and int(time.time()) <= posted + 1:
                with contextlib.suppress(OSError):
                    if self._status(f"/.synced?name={self.route.upstream}").strip() == wanted:
                        return
                time.sleep(0.02)
        raise TimeoutError(f"the balancer did not sync {wanted or 'no endpoint'} in time")

    def _status(self, path: str, body: bytes | None = None) -> str:
        request = urllib.request.Request(
            f"http://{LOOPBACK}:{self.status_port}{path}",
            data=body,
            method="POST" if body else "GET",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read().decode()


def route_of(ingress: Mapping[str, Any]) -> Route:
    """The first rule and path of an Ingress, as the template renders its server and location."""
    metadata = ingress["metadata"]
    [rule] = ingress["spec"]["rules"][:1]
    [path] = rule["http"]["paths"][:1]
    service = path["backend"]["service"]
    namespace = metadata.get("namespace", "default")
    return Route(
        server_name=rule.get("host") or "_",
        location_path=path["path"],
        upstream=upstream_name(namespace, service["name"], service["port"]["number"]),
        namespace=namespace,
        ingress_name=metadata["name"],
        service_name=service["name"],
        service_port=service["port"]["number"],
    )


@contextlib.contextmanager
def ingress_nginx(
    ingress: Mapping[str, Any],
    endpoints: Sequence[tuple[str, int]],
    tls: Certificates | None = None,
    proxy_protocol: Sequence[str] | None = None,
) -> Iterator[IngressNginx]:
    """Debian's nginx running the controller's Lua for `ingress`, its pods at `endpoints`;
    `proxy_protocol`: the networks trusted to send a PROXY header (the listener then needs
    one)."""
    reason = missing()
    if reason is not None:
        raise Unavailable(reason)
    check_digests()
    library = restychash()
    port, status_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="ingress-nginx-") as directory:
        workdir = Path(directory)
        settings = {"listen_ports": {"status_port": str(status_port), "http": str(port)},
                    "use_forwarded_headers": False,
                    "use_proxy_protocol": proxy_protocol is not None,
                    "is_ssl_passthrough_enabled": False, "http_redirect_code": 308,
                    "hsts": False, "enable_metrics": False}  # fmt: skip
        (workdir / "cfg.json").write_text(json.dumps(settings))
        route = route_of(ingress)
        (workdir / "nginx.conf").write_text(
            nginx_config(workdir, port, status_port, library, route, tls, proxy_protocol)
        )
        command = [shutil.which("nginx") or "nginx", "-p", str(workdir), "-c",
                   str(workdir / "nginx.conf"), "-e", str(workdir / "error.log")]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_until_listening(status_port, process)
            wait_until_listening(port, process)
            balancer = IngressNginx(port, status_port, workdir, route, ingress)
            balancer.set_endpoints(endpoints)
            yield balancer
        finally:
            process.terminate()
            try:
                process.wait(timeout=READY_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
