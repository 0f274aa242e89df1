"""The check: one client with a cookie jar makes N requests (sticky?), M fresh clients show the
spread; the report, its verdict and its text."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from tools.check_affinity.answers import (
    EXIT_NOT_STICKY,
    EXIT_STICKY,
    cookie_attributes,
    cookie_names,
    pod_name,
    shown_url,
)
from tools.check_affinity.client import Connection, fetch, new_client

BAR_WIDTH = 30


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


async def probe(
    url: str,
    cookie_name: str,
    requests: int,
    clients: int,
    concurrency: int,
    timeout: float,
    progress: tqdm | None = None,
    connection: Connection | None = None,
) -> Report:
    connection = connection or Connection()
    report = Report(shown_url(url), cookie_name, requests, clients, insecure=connection.insecure)
    gate = asyncio.Semaphore(concurrency)

    def tick() -> None:
        if progress is not None:
            progress.update(1)

    async with new_client(concurrency, timeout, connection) as session:
        first = await fetch(session, url)  # alone: the rest reuse the cookie it sets
        report.sticky_pods[pod_name(first)] += 1
        report.cookie = cookie_attributes(first.set_cookies, cookie_name)
        report.cookies_set = cookie_names(first.set_cookies)
        tick()

        async def sticky_request() -> None:
            async with gate:
                report.sticky_pods[pod_name(await fetch(session, url))] += 1
                tick()

        await asyncio.gather(*(sticky_request() for _ in range(requests - 1)))

    async def fresh_client() -> None:
        async with gate, new_client(1, timeout, connection) as fresh:
            report.spread_pods[pod_name(await fetch(fresh, url))] += 1
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
