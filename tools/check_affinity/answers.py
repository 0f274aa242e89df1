"""What an answer means: the pod that sent it (what-is-my-pod's body), the cookies it set, and
how any of it may be printed (one line, escaped, bounded; never a URL's user:password)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from yarl import URL

EXIT_STICKY, EXIT_NOT_STICKY, EXIT_ERROR = 0, 1, 2
# A pod name is a Kubernetes object name: anything else (control characters included) is not
# what-is-my-pod, and is never printed as a pod.
POD_BODY = re.compile(
    r'^\s*Hello "(?P<pod>[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)"!\s*$', flags=re.ASCII
)
# Set-Cookie attributes by their lower-case name -> as RFC 6265 spells them; others are kept
# as received.
COOKIE_ATTRIBUTES = {
    "path": "Path",
    "max-age": "Max-Age",
    "expires": "Expires",
    "domain": "Domain",
    "httponly": "HttpOnly",
    "secure": "Secure",
    "samesite": "SameSite",
    "partitioned": "Partitioned",
}
FLAG_ATTRIBUTES = ("HttpOnly", "Secure")  # reported as true/false even when absent


class CheckError(Exception):
    """Unreachable, a bad argument, or an answer that is not what-is-my-pod: exit 2."""


@dataclass(frozen=True)
class Answer:
    url: str
    status: int
    body: str
    set_cookies: list[str]


def printable(text: str, limit: int = 80) -> str:
    """Text as it may be printed: one line, control characters escaped, cut short."""
    shown = json.dumps(text[: limit * 4], ensure_ascii=True)[1:-1]
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def shown_url(url: str) -> str:
    """The URL without any user:password in it: those are never printed."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return printable(_without_userinfo(url))
    if parsed.host is None and "@" in url:  # not a URL yarl understands: no authority to trust
        return printable(_without_userinfo(url))
    if parsed.user is not None or parsed.password is not None:
        parsed = parsed.with_user(None)
    return printable(str(parsed), limit=200)


def _without_userinfo(text: str) -> str:
    """A URL that does not parse, with anything that may be a user:password removed: everything
    between the scheme and the last `@` (more than needed, never less)."""
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "", text
    if "@" in rest:
        rest = "[user:password hidden]@" + rest.rsplit("@", 1)[1]
    return scheme + separator + rest


def pod_name(answer: Answer) -> str:
    """The pod that answered (`Hello "<pod>"!`); anything else is not what-is-my-pod."""
    match = POD_BODY.match(answer.body) if answer.status == 200 else None
    if match is None:
        first_line = answer.body.strip().splitlines()[0] if answer.body.strip() else ""
        raise CheckError(
            f'{shown_url(answer.url)} answered HTTP {answer.status} "{printable(first_line)}": '
            'not a what-is-my-pod response (expected: Hello "<pod name>"!)'
        )
    return match.group("pod")


def parse_set_cookie(header: str) -> tuple[str, dict[str, Any]] | None:
    """RFC 6265 5.2: (name, attributes) of one Set-Cookie header, attributes it does not know
    kept as received; None when the header sets no cookie."""
    pair, *parts = header.split(";")
    name, equals, _ = pair.partition("=")
    name = name.strip()
    if not equals or not name:
        return None
    attributes: dict[str, Any] = {}
    for part in parts:
        key, has_value, value = part.partition("=")
        key = key.strip()
        if not key:
            continue
        spelling = COOKIE_ATTRIBUTES.get(key.lower(), printable(key, limit=40))
        attributes[spelling] = value.strip() if has_value else True
    for flag in FLAG_ATTRIBUTES:
        attributes.setdefault(flag, False)
    return name, attributes


def _cookies(set_cookie_headers: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    return [parsed for header in set_cookie_headers if (parsed := parse_set_cookie(header))]


ATTRIBUTE_OCTETS = 1024  # browsers ignore a longer attribute value (RFC 6265bis, 5.6)
SHOWN_ATTRIBUTE = 100  # characters of an attribute value in the reports
SHOWN_COOKIES = 20  # names of the cookies a server set, in the reports


def _bounded(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    octets = len(value.encode("utf-8", errors="replace"))
    if octets > ATTRIBUTE_OCTETS:
        return f"(ignored by browsers: {octets} octets, over {ATTRIBUTE_OCTETS})"
    return printable(value, limit=SHOWN_ATTRIBUTE)


def cookie_attributes(set_cookie_headers: Sequence[str], name: str) -> dict[str, Any] | None:
    """The attributes of cookie `name` in Set-Cookie headers, as received, each value bounded
    for printing (one the browser would ignore says so); None if not set."""
    for cookie, attributes in _cookies(set_cookie_headers):
        if cookie == name:
            return {printable(key, limit=40): _bounded(value) for key, value in attributes.items()}
    return None


def cookie_names(set_cookie_headers: Sequence[str]) -> list[str]:
    """The names of the cookies set, the first SHOWN_COOKIES of them and how many more."""
    names = [printable(name, limit=64) for name, _ in _cookies(set_cookie_headers)]
    if len(names) > SHOWN_COOKIES:
        names = [*names[:SHOWN_COOKIES], f"(and {len(names) - SHOWN_COOKIES} more)"]
    return names
