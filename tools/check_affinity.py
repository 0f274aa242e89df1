"""Session-affinity check: the tutorial's curl loop with a cookie jar, as one command.

    python -m tools.check_affinity [URL] [--stack NAME] [--cookie-name NAME] [--requests N]
                                   [--clients M] [--concurrency C] [--timeout S] [--json]

Stickiness: one client with a cookie jar makes N requests; every response must name the same
pod and the first must set the expected cookie. Spread: M fresh clients without cookies, to see
whether the load balancer spreads new sessions over pods at all.

Exit codes: 0 sticky (and the expected cookie set); 1 not sticky, or the expected cookie
missing; 2 unreachable, bad arguments, or a response that is not from what-is-my-pod.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.cookies import CookieError, Morsel, SimpleCookie
from typing import Any, NoReturn

import aiohttp
from tqdm import tqdm

# The stack's default; the stack's `cookieName` output wins when the URL comes from a stack.
from components.config import DEFAULT_COOKIE_NAME

EXIT_STICKY, EXIT_NOT_STICKY, EXIT_ERROR = 0, 1, 2
POD_BODY = re.compile(r'^\s*Hello "(?P<pod>[^"]+)"!\s*$')
# Set-Cookie attributes as SimpleCookie names them -> as RFC 6265 spells them.
COOKIE_ATTRIBUTES = {
    "path": "Path",
    "max-age": "Max-Age",
    "expires": "Expires",
    "domain": "Domain",
    "httponly": "HttpOnly",
    "secure": "Secure",
    "samesite": "SameSite",
}
CONNECT_RETRIES = 2
BAR_WIDTH = 30


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
    sticky_pods: Counter[str] = field(default_factory=Counter)
    spread_pods: Counter[str] = field(default_factory=Counter)

    @property
    def sticky(self) -> bool:
        return len(self.sticky_pods) == 1

    @property
    def verdict(self) -> str:
        if self.cookie is None:
            return "cookie-missing"
        return "sticky" if self.sticky else "not-sticky"

    @property
    def exit_code(self) -> int:
        return EXIT_STICKY if self.verdict == "sticky" else EXIT_NOT_STICKY

    @property
    def warnings(self) -> list[str]:
        if self.clients and len(self.spread_pods) == 1:
            [pod] = self.spread_pods
            return [
                f"all {self.clients} fresh clients went to {pod}: sticky, but is anything "
                "balancing? (one replica ready, or a load balancer that pins every client)"
            ]
        return []

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


def pod_name(answer: Answer) -> str:
    """The pod that answered (`Hello "<pod>"!`); anything else is not what-is-my-pod."""
    match = POD_BODY.match(answer.body) if answer.status == 200 else None
    if match is None:
        first_line = answer.body.strip().splitlines()[0][:80] if answer.body.strip() else ""
        raise CheckError(
            f"{answer.url} answered HTTP {answer.status} {first_line!r}: "
            'not a what-is-my-pod response (expected: Hello "<pod name>"!)'
        )
    return match.group("pod")


def _morsels(set_cookie_headers: Sequence[str]) -> Iterator[Morsel[str]]:
    """Every cookie the Set-Cookie headers set; a header that does not parse is skipped."""
    for header in set_cookie_headers:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue
        yield from jar.values()


def cookie_attributes(set_cookie_headers: Sequence[str], name: str) -> dict[str, Any] | None:
    """The attributes of cookie `name` in Set-Cookie headers, as received; None if not set."""
    for morsel in _morsels(set_cookie_headers):
        if morsel.key != name:
            continue
        attributes: dict[str, Any] = {}
        for key, spelling in COOKIE_ATTRIBUTES.items():
            value = morsel[key]
            if key in {"httponly", "secure"}:
                attributes[spelling] = bool(value)
            elif value != "":
                attributes[spelling] = value
        return attributes
    return None


def cookie_names(set_cookie_headers: Sequence[str]) -> list[str]:
    return [morsel.key for morsel in _morsels(set_cookie_headers)]


def _session(connections: int, timeout: float) -> aiohttp.ClientSession:
    """A client with its own cookie jar (unsafe=True: the jar also keeps cookies of IP hosts,
    and a load balancer URL is usually an IP) and up to `connections` keep-alive connections."""
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=timeout),
    )


async def _get(session: aiohttp.ClientSession, url: str) -> Answer:
    """One GET; a failed connection or a timeout is retried CONNECT_RETRIES times, then fatal."""
    for attempt in range(CONNECT_RETRIES + 1):
        try:
            async with session.get(url, allow_redirects=False) as response:
                body = await response.text(errors="replace")
                return Answer(url, response.status, body, response.headers.getall("Set-Cookie", []))
        except (aiohttp.ClientConnectionError, TimeoutError) as error:
            if attempt == CONNECT_RETRIES:
                reason = str(error) or type(error).__name__
                raise CheckError(f"{url} is unreachable: {reason}") from None
            await asyncio.sleep(0.1 * 2**attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


async def probe(
    url: str,
    cookie_name: str,
    requests: int,
    clients: int,
    concurrency: int,
    timeout: float,
    progress: tqdm | None = None,
) -> Report:
    report = Report(url, cookie_name, requests, clients)
    gate = asyncio.Semaphore(concurrency)

    def tick() -> None:
        if progress is not None:
            progress.update(1)

    async with _session(concurrency, timeout) as session:
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
        async with gate, _session(1, timeout) as fresh:
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
        raise CheckError(f"`{' '.join(command)}` failed: {reason}")
    return json.loads(result.stdout or "{}")


def _positive(kind: type, minimum: float) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {minimum}")
        return value

    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CheckError(f"{message} (see --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tools.check_affinity", description=__doc__.split("\n")[0])
    parser.add_argument("url", nargs="?", help="default: the stack's `url` output")
    parser.add_argument("--stack", help="the stack whose outputs give the URL and cookie name")
    parser.add_argument("--cookie-name", help="default: the stack's `cookieName`, else stickounet")
    parser.add_argument("--requests", type=_positive(int, 1), default=20, metavar="N")
    parser.add_argument("--clients", type=_positive(int, 0), default=10, metavar="M")
    parser.add_argument("--concurrency", type=_positive(int, 1), default=10, metavar="C")
    parser.add_argument("--timeout", type=_positive(float, 0.001), default=5.0, metavar="S")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        url, cookie_name = args.url, args.cookie_name
        if url is None or cookie_name is None:
            outputs = stack_outputs(args.stack) if url is None else {}
            url = url or outputs.get("url")
            cookie_name = cookie_name or outputs.get("cookieName") or DEFAULT_COOKIE_NAME
            if not url:
                raise CheckError("the stack has no `url` output: pass the URL")
        if not re.match(r"^https?://[^/\s]+", url):
            raise CheckError(f"{url!r} is not an http:// or https:// URL")
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
                )
            )
    except CheckError as error:
        print(f"check_affinity: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(report.as_json(), indent=2) if args.json else render_text(report))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
