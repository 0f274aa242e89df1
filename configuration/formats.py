"""Value formats the stack's consumers enforce: container image references, Ingress paths,
cookie paths, hosts. Pure functions; each returns why a value is refused, or None.

Sources: the container image reference grammar (distribution/reference), Kubernetes' Ingress
path validation (networking/validation: `//`, `/./`, `/../`, `%2f`, trailing `/.` or `/..`),
ingress-nginx 1.15.1 `strict-validate-path-type` (on by default:
`(?i)^/[[:alnum:]._\\-/]*$`, ASCII letters and digits only), and RFC 6265 path-match.
"""

from __future__ import annotations

import ipaddress
import re

# distribution/reference, ASCII only (no \w: Python's would take any letter).
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}"
_REPOSITORY = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_RE = re.compile(_DOMAIN)
_REFERENCE_TAIL = re.compile(rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?")
NAME_MAX = 255


def image_problem(image: str) -> str | None:
    """Why `image` is not a pinned container image reference, or None."""
    if not image.isascii() or not image.isprintable() or not image:
        return "not an image reference (only printable ASCII characters)"
    name, at, digest = image.partition("@")
    if at and not re.fullmatch(_DIGEST, digest):
        return "the digest must be sha256: and 64 lowercase hexadecimal characters"
    last = name.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else None
    repository_path = name[: -(len(tag) + 1)] if tag is not None else name
    first, slash, rest = repository_path.partition("/")
    # As docker reads it: the first part is a registry when it has a dot or a port, or is
    # localhost; otherwise the whole is a repository on Docker Hub.
    if slash and ("." in first or ":" in first or first == "localhost"):
        if not _DOMAIN_RE.fullmatch(first):
            return f"the registry {first!r} is not a host name with an optional port"
        repository = rest
    else:
        repository = repository_path
    if not _REPOSITORY.fullmatch(repository):
        return (
            f"the repository {repository!r} must be lowercase letters, digits and separators "
            "(., _, __, -), in parts separated by /"
        )
    if len(repository_path) > NAME_MAX:
        return f"the name is longer than {NAME_MAX} characters"
    if tag is not None and not re.fullmatch(_TAG, tag):
        return (
            f"the tag {tag!r} must be 1 to 128 letters, digits, '_', '.' or '-', not first . or -"
        )
    if not at and tag in (None, "latest"):
        return "no tag, or the moving latest tag"
    return None


_INGRESS_PATH = re.compile(r"/[A-Za-z0-9._/-]*", flags=re.ASCII)
_KUBERNETES_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")


def ingress_path_problem(path: str) -> str | None:
    """Why a Prefix path would be refused by Kubernetes or by ingress-nginx, or None."""
    if not _INGRESS_PATH.fullmatch(path):
        return (
            "ingress-nginx accepts a Prefix path of ASCII letters, digits, '.', '_', '-' and '/' "
            "only, starting with '/'"
        )
    for sequence in _KUBERNETES_PATH_SEQUENCES:
        if sequence in path:
            return f"Kubernetes refuses a path containing {sequence!r}"
    if path.endswith(("/.", "/..")):
        return "Kubernetes refuses a path ending in /. or /.."
    return None


def cookie_path_covers(cookie_path: str, request_path: str) -> bool:
    """RFC 6265 5.1.4 path-match: a browser sends the cookie with requests to `request_path`."""
    if request_path == cookie_path:
        return True
    return request_path.startswith(cookie_path) and (
        cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    )


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
