"""The backends JSON the ingress-nginx v1.15.1 controller POSTs to its Lua balancer, built from
the program's own Ingress (its cookie-affinity annotations) and the pods behind its Service.

A translation of the controller's Go code at the v1.15.1 release commit (dbb11b92ddb7), file and
line cited where the rule is made:
- internal/ingress/annotations/sessionaffinity/main.go: `cookieAffinityParse` (lines 196-250):
  every cookie setting is a string annotation, except `session-cookie-secure`,
  `session-cookie-conditional-samesite-none` and `session-cookie-change-on-failure`, which go
  through `parser.GetBoolAnnotation` (strconv.ParseBool; anything else is dropped, false); the
  cookie name defaults to INGRESSCOOKIE (line 38); `Parse` (lines 262-295) keeps the affinity
  type and mode as written (an empty mode is balanced in balancer.lua, get_implementation).
- internal/ingress/controller/controller.go (lines 875-912): each upstream takes the type and
  mode of the first Ingress that names it, the cookie settings, and `locations[host]` gets the
  path (host "_" for a rule without one: defServerName, line 58).
- internal/ingress/controller/util.go `upstreamName` (line 50): `<namespace>-<service>-<port>`.
- pkg/apis/ingress/types.go (lines 80-185): the JSON tags; `CookieSessionAffinity.Secure` is
  `json:"secure,omitempty"`, so `session-cookie-secure: "false"` never reaches the balancer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PREFIX = "nginx.ingress.kubernetes.io/"
DEFAULT_COOKIE_NAME = "INGRESSCOOKIE"
DEFAULT_SERVER_NAME = "_"
_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # strconv.ParseBool's true; its false, or else


def parse_bool(value: str | None) -> bool:
    """strconv.ParseBool as the annotation parser applies it: an invalid value counts as unset."""
    return value in _TRUE


def upstream_name(namespace: str, service: str, port: int) -> str:
    return f"{namespace}-{service}-{port}"


def cookie_session_affinity(annotations: Mapping[str, str]) -> dict[str, Any]:
    """The `cookieSessionAffinity` object, with the controller's omitempty fields left out."""

    def text(name: str) -> str:
        return annotations.get(PREFIX + name, "")

    fields: dict[str, Any] = {
        "name": text("session-cookie-name") or DEFAULT_COOKIE_NAME,
        "expires": text("session-cookie-expires"),
        "maxage": text("session-cookie-max-age"),
        "secure": parse_bool(annotations.get(PREFIX + "session-cookie-secure")),
        "path": text("session-cookie-path"),
        "domain": text("session-cookie-domain"),
        "samesite": text("session-cookie-samesite"),
        "conditional_samesite_none": parse_bool(
            annotations.get(PREFIX + "session-cookie-conditional-samesite-none")
        ),
        "change_on_failure": parse_bool(
            annotations.get(PREFIX + "session-cookie-change-on-failure")
        ),
    }
    return {key: value for key, value in fields.items() if key == "name" or value}


def backends(ingress: Mapping[str, Any], pods: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """One backend per Service port the Ingress routes to, its endpoints the `pods`
    (address, port), as the controller would POST them."""
    metadata = ingress["metadata"]
    namespace = metadata.get("namespace", "default")
    annotations = metadata.get("annotations") or {}
    affinity_type = annotations.get(PREFIX + "affinity", "")
    found: dict[str, dict[str, Any]] = {}
    for rule in ingress["spec"].get("rules", []):
        host = rule.get("host") or DEFAULT_SERVER_NAME
        for path in rule["http"]["paths"]:
            service = path["backend"]["service"]
            port = service["port"]["number"]
            name = upstream_name(namespace, service["name"], port)
            backend = found.setdefault(
                name,
                {
                    "name": name,
                    "port": port,
                    "sslPassthrough": False,
                    "endpoints": [
                        {"address": address, "port": str(pod_port)} for address, pod_port in pods
                    ],
                    "sessionAffinityConfig": {
                        "name": affinity_type,
                        "mode": annotations.get(PREFIX + "affinity-mode", ""),
                        "cookieSessionAffinity": {"name": ""},
                    },
                    "upstreamHashByConfig": {},
                    "noServer": False,
                    "trafficShapingPolicy": {
                        "weight": 0, "weightTotal": 0, "header": "", "headerValue": "",
                        "headerPattern": "", "cookie": "",
                    },
                },
            )  # fmt: skip
            if affinity_type == "cookie":
                cookie = cookie_session_affinity(annotations)
                locations = backend["sessionAffinityConfig"]["cookieSessionAffinity"].get(
                    "locations", {}
                )
                locations.setdefault(host, []).append(path["path"])
                backend["sessionAffinityConfig"]["cookieSessionAffinity"] = cookie | {
                    "locations": locations
                }
    return list(found.values())
