"""Session-affinity check: the tutorial's curl loop with a cookie jar, as one command.

    python -m tools.check_affinity [URL] [--stack NAME] [--cookie-name NAME] [--requests N]
                                   [--clients M] [--concurrency C] [--timeout S]
                                   [--ca-cert FILE | --insecure] [--json]

Stickiness: one client with a cookie jar makes N requests; every response must name the same
pod and the first must set the expected cookie. Spread: M fresh clients without cookies, to see
whether the load balancer spreads new sessions over pods at all.

Exit codes: 0 sticky (and the expected cookie set); 1 not sticky, the expected cookie missing,
or a Secure cookie received over plain http; 2 could not check: unreachable, bad arguments, a
malformed or oversized response, a certificate that does not verify, or a response that is not
from what-is-my-pod. Whatever answers, the check ends with one of these and one clear line.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import re
import shutil
import ssl
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import aiohttp
from tqdm import tqdm
from yarl import URL

# The stack's default; the stack's `cookieName` output wins when the URL comes from a stack.
from configuration.sections import DEFAULT_COOKIE_NAME

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
CONNECT_RETRIES = 2
BAR_WIDTH = 30
# Limits: what-is-my-pod answers in a few dozen bytes; nothing else is read further.
MAX_BODY_BYTES = 64 * 1024
MAX_REQUESTS, MAX_CLIENTS, MAX_CONCURRENCY, MAX_TIMEOUT = 10_000, 1_000, 100, 300.0


class CheckError(Exception):
    """Unreachable, a bad argument, or an answer that is not what-is-my-pod: exit 2."""


@dataclass
class Report:
    url: str
    cookie_name: str
    requests: int
    clients: int
    cookie: dict[str, Any] | None = None  # the expected cookie's attributes, as received
    cookies_set: list[str] = field(default_factory=list)  # names of every cookie first set
    insecure: bool = False  # --insecure: the certificate was not verified
    sticky_pods: Counter[str] = field(default_factory=Counter)
    spread_pods: Counter[str] = field(default_factory=Counter)

    @property
    def sticky(self) -> bool:
        return len(self.sticky_pods) == 1

    @property
    def secure_over_http(self) -> bool:
        """A Secure cookie received over http: a browser would neither keep nor send it."""
        return bool(self.cookie and self.cookie.get("Secure")) and self.url.startswith("http:")

    @property
    def verdict(self) -> str:
        if self.cookie is None:
            return "cookie-missing"
        if self.secure_over_http:
            return "secure-over-http"
        return "sticky" if self.sticky else "not-sticky"

    @property
    def exit_code(self) -> int:
        return EXIT_STICKY if self.verdict == "sticky" else EXIT_NOT_STICKY

    @property
    def warnings(self) -> list[str]:
        warnings = []
        if self.insecure:
            warnings.append("--insecure: the server's certificate was NOT verified")
        if self.clients and len(self.spread_pods) == 1:
            [pod] = self.spread_pods
            warnings.append(
                f"all {self.clients} fresh clients went to {pod}: sticky, but is anything "
                "balancing? (one replica ready, or a load balancer that pins every client)"
            )
        return warnings

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "exitCode": self.exit_code,
            "url": self.url,
            "cookie": {"name": self.cookie_name, "set": self.cookie is not None}
            | ({"attributes": self.cookie} if self.cookie is not None else {})
            | {"cookiesSet": self.cookies_set},
            "sticky": {"requests": self.requests, "pods": dict(self.sticky_pods)},
            "spread": {"clients": self.clients, "pods": dict(self.spread_pods)},
            "warnings": self.warnings,
        }


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
        return printable(url)
    if parsed.user is not None or parsed.password is not None:
        parsed = parsed.with_user(None)
    return printable(str(parsed), limit=200)


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


def cookie_attributes(set_cookie_headers: Sequence[str], name: str) -> dict[str, Any] | None:
    """The attributes of cookie `name` in Set-Cookie headers, as received; None if not set."""
    for cookie, attributes in _cookies(set_cookie_headers):
        if cookie == name:
            return attributes
    return None


def cookie_names(set_cookie_headers: Sequence[str]) -> list[str]:
    return [printable(name, limit=64) for name, _ in _cookies(set_cookie_headers)]


@dataclass(frozen=True)
class Tls:
    """How the server's certificate is checked: the system's CAs, a CA file, or not at all."""

    ca_cert: Path | None = None
    insecure: bool = False

    def context(self) -> ssl.SSLContext | bool:
        """What every client of a run shares: False (no check), True (aiohttp's verified
        context over the system CAs, made once when aiohttp is imported), or one context for
        --ca-cert, made on the first call. Building a context loads a CA store (20 to 80 ms of
        CPU): one per client would stall the event loop under hundreds of sessions."""
        if self.insecure:
            return False
        if self.ca_cert is None:
            return True
        return _ca_context(self.ca_cert)


@functools.cache
def _ca_context(ca_cert: Path) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=str(ca_cert))
    except (OSError, ssl.SSLError) as error:
        raise CheckError(
            f"--ca-cert {ca_cert}: not a readable PEM certificate file ({printable(str(error))})"
        ) from None


def _session(connections: int, timeout: float, tls: Tls) -> aiohttp.ClientSession:
    """A client with its own cookie jar (unsafe=True: the jar also keeps cookies of IP hosts,
    and a load balancer URL is usually an IP) and up to `connections` keep-alive connections."""
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(limit=connections, ssl=tls.context()),
        timeout=aiohttp.ClientTimeout(total=timeout),
    )


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    """The body up to its end, or MAX_BODY_BYTES + 1 bytes (then it is too long): a truncated
    body raises at its end instead of passing as a short one."""
    body = b""
    while len(body) <= MAX_BODY_BYTES:
        chunk = await response.content.read(MAX_BODY_BYTES + 1 - len(body))
        if not chunk:
            break
        body += chunk
    return body


def _reason(error: BaseException) -> str:
    return printable(str(error) or type(error).__name__, limit=160)


async def _get(session: aiohttp.ClientSession, url: str, retries: int = CONNECT_RETRIES) -> Answer:
    """One GET, its body read up to MAX_BODY_BYTES. A refused connection or a timeout is retried
    `retries` times; every failure ends as a CheckError saying why."""
    shown = shown_url(url)
    for attempt in range(retries + 1):
        try:
            async with session.get(url, allow_redirects=False) as response:
                body = await _read_bounded(response)
                if len(body) > MAX_BODY_BYTES:
                    raise CheckError(
                        f"{shown} answered more than {MAX_BODY_BYTES // 1024} KiB: not a "
                        "what-is-my-pod response"
                    )
                return Answer(
                    url,
                    response.status,
                    body.decode("utf-8", errors="replace"),
                    response.headers.getall("Set-Cookie", []),
                )
        except aiohttp.ClientConnectorCertificateError as error:
            raise CheckError(
                f"{shown}: the server's certificate does not verify "
                f"({_reason(error.certificate_error)}); give its CA with --ca-cert FILE, or "
                "--insecure to check without verifying"
            ) from None
        except aiohttp.ClientSSLError as error:
            raise CheckError(f"{shown}: TLS failed ({_reason(error)})") from None
        except (aiohttp.ClientConnectorError, TimeoutError) as error:
            if attempt == retries:
                raise CheckError(f"{shown} is unreachable: {_reason(error)}") from None
            await asyncio.sleep(0.1 * 2**attempt)
        except aiohttp.ClientPayloadError as error:
            raise CheckError(f"{shown}: the response body is broken ({_reason(error)})") from None
        except aiohttp.ClientResponseError as error:
            # The parser's message: a reason, then the offending line quoted; the reason says it.
            lines = [
                line.split("b'")[0].strip().rstrip(":") for line in str(error.message).splitlines()
            ]
            reason = "; ".join(line for line in lines[:2] if line)
            raise CheckError(
                f"{shown}: a malformed HTTP response ({printable(reason or 'unreadable')})"
            ) from None
        except (aiohttp.ClientError, ValueError, OSError) as error:
            raise CheckError(f"{shown}: {_reason(error)}") from None
    raise AssertionError("unreachable")  # the loop returns or raises


async def probe(
    url: str,
    cookie_name: str,
    requests: int,
    clients: int,
    concurrency: int,
    timeout: float,
    progress: tqdm | None = None,
    tls: Tls | None = None,
) -> Report:
    tls = tls or Tls()
    report = Report(shown_url(url), cookie_name, requests, clients, insecure=tls.insecure)
    gate = asyncio.Semaphore(concurrency)

    def tick() -> None:
        if progress is not None:
            progress.update(1)

    async with _session(concurrency, timeout, tls) as session:
        first = await _get(session, url)  # alone: the rest reuse the cookie it sets
        report.sticky_pods[pod_name(first)] += 1
        report.cookie = cookie_attributes(first.set_cookies, cookie_name)
        report.cookies_set = cookie_names(first.set_cookies)
        tick()

        async def sticky_request() -> None:
            async with gate:
                report.sticky_pods[pod_name(await _get(session, url))] += 1
                tick()

        await asyncio.gather(*(sticky_request() for _ in range(requests - 1)))

    async def fresh_client() -> None:
        async with gate, _session(1, timeout, tls) as fresh:
            report.spread_pods[pod_name(await _get(fresh, url))] += 1
            tick()

    await asyncio.gather(*(fresh_client() for _ in range(clients)))
    return report


def _bar_chart(pods: Counter[str]) -> list[str]:
    if not pods:
        return ["    (none)"]
    widest = max(len(pod) for pod in pods)
    most = max(pods.values())
    return [
        f"    {pod.ljust(widest)}  {'█' * max(1, round(BAR_WIDTH * count / most))} {count}"
        for pod, count in sorted(pods.items())
    ]


def render_text(report: Report) -> str:
    lines = [f"Session affinity at {report.url} (cookie {report.cookie_name})", ""]
    if report.sticky:
        [pod] = report.sticky_pods
        lines.append(f"Sticky: yes, all {report.requests} requests of one client went to {pod}")
    else:
        lines.append(
            f"Sticky: NO, {report.requests} requests of one client went to "
            f"{len(report.sticky_pods)} pods:"
        )
        lines += _bar_chart(report.sticky_pods)
    if report.cookie is None:
        others = ", ".join(report.cookies_set) or "none"
        lines.append(
            f"Cookie {report.cookie_name}: NOT SET by the first response (cookies set: {others})"
        )
    else:
        attributes = "  ".join(
            key if value is True else f"{key}={value}"
            for key, value in report.cookie.items()
            if value is not False
        )
        lines.append(f"Cookie {report.cookie_name}: {attributes or '(no attributes)'}")
    if report.clients:
        lines += [
            "",
            f"Spread of {report.clients} fresh clients (no cookie) over "
            f"{len(report.spread_pods)} pod(s):",
            *_bar_chart(report.spread_pods),
        ]
    lines += [f"Warning: {warning}" for warning in report.warnings]
    verdicts = {
        "sticky": "STICKY",
        "not-sticky": "NOT STICKY",
        "cookie-missing": f"NOT STICKY: the {report.cookie_name} cookie is missing",
        "secure-over-http": f"NOT STICKY: the {report.cookie_name} cookie is Secure but came "
        "over plain http, so a browser would never send it back",
    }
    lines += ["", f"Verdict: {verdicts[report.verdict]} (exit {report.exit_code})"]
    return "\n".join(lines)


def stack_outputs(stack: str | None) -> dict[str, Any]:
    """The stack's outputs through the Pulumi CLI (secrets stay masked: no --show-secrets)."""
    if shutil.which("pulumi") is None:
        raise CheckError(
            "no URL given and the Pulumi CLI is not installed to read the stack's `url` output: "
            "pass the URL, e.g. python -m tools.check_affinity http://203.0.113.10"
        )
    command = ["pulumi", "stack", "output", "--json"] + (["--stack", stack] if stack else [])
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        raise CheckError("`pulumi stack output` did not answer within 60 s") from None
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise CheckError(f"`{' '.join(command)}` failed: {printable(reason, limit=160)}")
    try:
        outputs = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        raise CheckError(f"`{' '.join(command)}` printed something that is not JSON") from None
    if not isinstance(outputs, dict):
        raise CheckError(f"`{' '.join(command)}` printed no outputs object")
    return outputs


def _bounded(kind: type, minimum: float, maximum: float) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{printable(text)!r} is not a number") from None
        if not math.isfinite(value) or not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"{printable(text)!r} must be from {minimum} to {maximum}"
            )
        return value

    return parse


def _cookie_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._~-]{1,64}", text, flags=re.ASCII):
        raise argparse.ArgumentTypeError(
            f"{printable(text)!r} is not a cookie name (1 to 64 of A-Z a-z 0-9 . _ ~ -)"
        )
    return text


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CheckError(f"{message} (see --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tools.check_affinity", description=__doc__.split("\n")[0])
    parser.add_argument("url", nargs="?", help="default: the stack's `url` output")
    parser.add_argument("--stack", help="the stack whose outputs give the URL and cookie name")
    parser.add_argument(
        "--cookie-name",
        type=_cookie_name,
        help=f"default: the stack's `cookieName`, else {DEFAULT_COOKIE_NAME}",
    )
    parser.add_argument(
        "--requests",
        type=_bounded(int, 1, MAX_REQUESTS),
        default=20,
        metavar="N",
        help=f"requests of the sticky client (1 to {MAX_REQUESTS})",
    )
    parser.add_argument(
        "--clients",
        type=_bounded(int, 0, MAX_CLIENTS),
        default=10,
        metavar="M",
        help=f"fresh clients for the spread (0 to {MAX_CLIENTS})",
    )
    parser.add_argument(
        "--concurrency",
        type=_bounded(int, 1, MAX_CONCURRENCY),
        default=10,
        metavar="C",
        help=f"requests at once (1 to {MAX_CONCURRENCY})",
    )
    parser.add_argument(
        "--timeout",
        type=_bounded(float, 0.001, MAX_TIMEOUT),
        default=5.0,
        metavar="S",
        help=f"seconds per request (finite, up to {MAX_TIMEOUT:g})",
    )
    parser.add_argument(
        "--watch", type=float, metavar="SECONDS", help="watch sessions for SECONDS instead"
    )
    parser.add_argument("--sessions", type=int, default=20, metavar="N", help="with --watch")
    parser.add_argument(
        "--interval", type=float, default=1.0, metavar="S", help="with --watch: seconds"
    )
    verification = parser.add_mutually_exclusive_group()
    verification.add_argument(
        "--ca-cert", type=Path, metavar="FILE", help="verify https against this CA (PEM)"
    )
    verification.add_argument(
        "--insecure", action="store_true", help="https without verifying the certificate"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _checked_url(url: str) -> str:
    try:
        parsed = URL(url)
        port = parsed.port  # yarl refuses a port out of range here
    except (ValueError, TypeError):
        raise CheckError(f"{shown_url(url)!r} is not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host or port is None:
        raise CheckError(f"{shown_url(url)!r} is not an http:// or https:// URL")
    return url


def _watch(args: argparse.Namespace, url: str, cookie_name: str) -> int:
    from tools.check_affinity.watch import bounds_problem, render_text, watch_sessions

    problem = bounds_problem(args.watch, args.sessions, args.interval)
    if problem is not None:
        raise CheckError(f"{problem} (see --help)")
    watch = asyncio.run(
        watch_sessions(
            url,
            cookie_name,
            args.watch,
            args.sessions,
            args.interval,
            args.timeout,
            Tls(args.ca_cert, args.insecure),
            live=sys.stderr.isatty() and not args.json,
        )
    )
    print(json.dumps(watch.as_json(), indent=2) if args.json else render_text(watch))
    return watch.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        url, cookie_name = args.url, args.cookie_name
        if url is None or cookie_name is None:
            outputs = stack_outputs(args.stack) if url is None else {}
            url = url or outputs.get("url")
            if cookie_name is None:
                stack_cookie = outputs.get("cookieName")
                try:
                    cookie_name = _cookie_name(str(stack_cookie or DEFAULT_COOKIE_NAME))
                except argparse.ArgumentTypeError as error:
                    raise CheckError(f"the stack's cookieName output: {error}") from None
            if not url or not isinstance(url, str):
                raise CheckError("the stack has no `url` output: pass the URL")
        url = _checked_url(str(url))
        if args.watch is not None:
            return _watch(args, url, cookie_name)
        with tqdm(
            total=args.requests + args.clients,
            desc="requests",
            unit="req",
            disable=None,
            file=sys.stderr,
            leave=False,
        ) as progress:
            report = asyncio.run(
                probe(
                    url,
                    cookie_name,
                    args.requests,
                    args.clients,
                    args.concurrency,
                    args.timeout,
                    progress,
                    Tls(args.ca_cert, args.insecure),
                )
            )
    except CheckError as error:
        print(f"check_affinity: could not check: {error}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # whatever answered, one line and exit 2, never a traceback
        print(
            f"check_affinity: could not check: {type(error).__name__}: {_reason(error)}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    print(json.dumps(report.as_json(), indent=2) if args.json else render_text(report))
    return report.exit_code
