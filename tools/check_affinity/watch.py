"""Watch sticky sessions while the stack changes (`python -m tools.check_affinity URL --watch S`).

N sessions, each with its own cookie jar like N browsers, each send one request every interval.
For each session it keeps the pod it was first pinned to, every move (when, from, to; the first
MAX_MOVES of them) and its failed requests (HTTP 5xx, a connection error, a timeout, an answer
that is not what-is-my-pod) with the longest run of consecutive failures; for each pod, when it
was first and last seen. Memory stays bounded however long the watch: counts, not responses.

Exit 0 when every session stayed on its first pod without a failed request, 1 when any moved
or failed, 2 when it could not watch at all (the URL does not answer at the start).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tools.check_affinity.answers import (
    EXIT_NOT_STICKY,
    EXIT_STICKY,
    CheckError,
    cookie_attributes,
    pod_name,
    shown_url,
)
from tools.check_affinity.client import Tls, fetch, new_client

MAX_MOVES = 100  # per session; further moves are counted, not kept
MAX_SESSIONS, MAX_WATCH_SECONDS = 200, 86_400.0
MIN_INTERVAL, MAX_INTERVAL = 0.05, 60.0


@dataclass
class Move:
    at: float
    source: str
    target: str


@dataclass
class Session:
    first_pod: str | None = None
    pod: str | None = None
    moves: list[Move] = field(default_factory=list)
    move_count: int = 0
    requests: int = 0  # answered or failed
    cookies_set: int = 0  # answers that set the watched cookie: 1 keeps the first one
    failures: int = 0
    failure_run: int = 0
    longest_failure_run: int = 0

    def answered(self, pod: str, at: float) -> None:
        self.requests += 1
        self.failure_run = 0
        if self.first_pod is None:
            self.first_pod = pod
        elif pod != self.pod:
            self.move_count += 1
            if len(self.moves) < MAX_MOVES:
                self.moves.append(Move(round(at, 3), str(self.pod), pod))
        self.pod = pod

    def failed(self) -> None:
        self.requests += 1
        self.failures += 1
        self.failure_run += 1
        self.longest_failure_run = max(self.longest_failure_run, self.failure_run)


@dataclass
class Watch:
    url: str
    cookie_name: str
    duration: float
    interval: float
    sessions: list[Session]
    pods: dict[str, list[float]] = field(default_factory=dict)  # pod -> [first, last] seen
    cookie: dict[str, Any] | None = None
    elapsed: float = 0.0
    interrupted: bool = False

    def saw(self, pod: str, at: float) -> None:
        seen = self.pods.setdefault(pod, [round(at, 3), round(at, 3)])
        seen[1] = round(at, 3)

    @property
    def kept(self) -> int:
        return sum(1 for s in self.sessions if s.move_count == 0)

    @property
    def moved(self) -> int:
        return len(self.sessions) - self.kept

    @property
    def failed(self) -> int:
        return sum(1 for s in self.sessions if s.failures)

    @property
    def exit_code(self) -> int:
        return EXIT_STICKY if self.moved == 0 and self.failed == 0 else EXIT_NOT_STICKY

    def answering(self, now: float) -> list[str]:
        """Pods seen within the last two intervals."""
        return sorted(
            pod for pod, (_, last) in self.pods.items() if now - last <= 2 * self.interval
        )

    def gone(self) -> list[str]:
        """Pods not seen in the last two intervals of the watch: they went away."""
        return sorted(set(self.pods) - set(self.answering(self.elapsed)))

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "seconds": round(self.elapsed, 3),
            "interrupted": self.interrupted,
            "sessions": len(self.sessions),
            "kept": self.kept,
            "moved": self.moved,
            "failed": self.failed,
            "exitCode": self.exit_code,
            "cookie": {"name": self.cookie_name, "attributes": self.cookie},
            "pods": {
                pod: {"first": first, "last": last} for pod, (first, last) in self.pods.items()
            },
            "gone": self.gone(),
            "per_session": [
                {
                    "first_pod": s.first_pod,
                    "moves": [{"at": m.at, "from": m.source, "to": m.target} for m in s.moves],
                    "moves_total": s.move_count,
                    "requests": s.requests,
                    "cookies_set": s.cookies_set,
                    "failures": s.failures,
                    "longest_failure_run": s.longest_failure_run,
                }
                for s in self.sessions
            ],
        }


def render_text(watch: Watch) -> str:
    lines = [
        f"Sessions at {watch.url} for {watch.elapsed:.1f} s ({len(watch.sessions)} sessions, "
        f"one request every {watch.interval:g} s, cookie {watch.cookie_name})"
        + (" - interrupted" if watch.interrupted else ""),
        "",
        f"Kept on their first pod: {watch.kept}   moved: {watch.moved}   "
        f"with failed requests: {watch.failed}",
    ]
    for index, session in enumerate(watch.sessions):
        if not (session.move_count or session.failures):
            continue
        moves = ", ".join(f"{m.at:.1f} s {m.source} -> {m.target}" for m in session.moves)
        more = (
            f" (+{session.move_count - len(session.moves)} more)"
            if session.move_count > len(session.moves)
            else ""
        )
        lines.append(
            f"  session {index}: first {session.first_pod}; moves: {moves or 'none'}{more}; "
            f"failed {session.failures} (longest run {session.longest_failure_run})"
        )
    lines += ["", "Pods (first seen - last seen, seconds into the watch):"]
    gone = set(watch.gone())
    for pod, (first, last) in sorted(watch.pods.items()):
        lines.append(
            f"  {pod}: {first:.1f} - {last:.1f}" + ("  (went away)" if pod in gone else "")
        )
    if watch.cookie is not None:
        attributes = "  ".join(
            key if value is True else f"{key}={value}"
            for key, value in watch.cookie.items()
            if value is not False
        )
        lines.append(f"Cookie {watch.cookie_name}: {attributes or '(no attributes)'}")
    verdict = (
        "every session kept its pod"
        if watch.exit_code == EXIT_STICKY
        else ("sessions moved or failed")
    )
    lines += ["", f"Verdict: {verdict} (exit {watch.exit_code})"]
    return "\n".join(lines)


def _live_line(watch: Watch, now: float) -> str:
    failing = sum(1 for s in watch.sessions if s.failure_run)
    return (
        f"\r{now:6.1f} s  kept {watch.kept}  moved {watch.moved}  failing {failing}  "
        f"pods {', '.join(watch.answering(now)) or '-'}\x1b[K"
    )


# Runs beside the sessions with the live Watch and its clock (seconds into the watch); the watch
# ends when it returns. A program (or a test) acts on what the watch has seen so far.
Observer = Callable[[Watch, Callable[[], float]], Awaitable[None]]


async def watch_sessions(
    url: str,
    cookie_name: str,
    duration: float,
    sessions: int,
    interval: float,
    timeout: float,
    tls: Tls,
    live: bool,
    observe: Observer | None = None,
) -> Watch:
    """Watch until `duration` has passed, `observe` returns, or SIGINT (Ctrl-C); the last two
    end it early."""
    watch = Watch(
        shown_url(url), cookie_name, duration, interval, [Session() for _ in range(sessions)]
    )
    # Can it watch at all? One request first: exit 2 if not.
    async with new_client(1, timeout, tls) as probe:
        first = await fetch(probe, url)
        pod_name(first)
        watch.cookie = cookie_attributes(first.set_cookies, cookie_name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def interrupt() -> None:
        watch.interrupted = True
        stop.set()

    # Ctrl-C ends the watch early; the report is still printed (no handler off the main thread).
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, interrupt)
    start = time.monotonic()

    def now() -> float:
        return time.monotonic() - start

    async def one(session: Session) -> None:
        async with new_client(1, timeout, tls) as client:
            while not stop.is_set() and now() < duration:
                sent = now()
                try:
                    # No retries: a failed request is what the watch counts. pod_name refuses
                    # any answer but a 200 from what-is-my-pod (a 5xx included).
                    answer = await fetch(client, url, retries=0)
                    pod = pod_name(answer)
                    session.answered(pod, sent)
                    if cookie_attributes(answer.set_cookies, cookie_name) is not None:
                        session.cookies_set += 1
                    watch.saw(pod, sent)
                except CheckError:
                    session.failed()
                wait = interval - (now() - sent)
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=wait)

    async def show() -> None:
        while not stop.is_set() and now() < duration:
            print(_live_line(watch, now()), end="", file=sys.stderr, flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)
        print("\r\x1b[K", end="", file=sys.stderr, flush=True)

    async def observed(observer: Observer) -> None:
        try:
            await observer(watch, now)
        finally:  # its failure ends the watch too, and is raised once the sessions are done
            stop.set()

    tasks = [one(s) for s in watch.sessions] + ([show()] if live else [])
    observer = asyncio.ensure_future(observed(observe)) if observe else None
    try:
        await asyncio.gather(*tasks)
        if observer is not None:
            if not observer.done():  # the duration ran out first
                observer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await observer
    finally:
        watch.elapsed = min(now(), duration) if not stop.is_set() else now()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGINT)
    return watch


def bounds_problem(duration: float, sessions: int, interval: float) -> str | None:
    if not 0 < duration <= MAX_WATCH_SECONDS:
        return f"--watch must be from 0 to {MAX_WATCH_SECONDS:g} seconds"
    if not 1 <= sessions <= MAX_SESSIONS:
        return f"--sessions must be from 1 to {MAX_SESSIONS}"
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        return f"--interval must be from {MIN_INTERVAL} to {MAX_INTERVAL:g} seconds"
    return None
