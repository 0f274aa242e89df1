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
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable
from typing import Any

from tools.check_affinity.answers import (
    CheckError,
    cookie_attributes,
    pod_name,
    shown_url,
)
from tools.check_affinity.client import Connection, fetch, new_client
from tools.check_affinity.watch_model import Session, Watch
from tools.check_affinity.watch_text import live_line

MAX_SESSIONS, MAX_WATCH_SECONDS = 1_000, 86_400.0
MIN_INTERVAL, MAX_INTERVAL = 0.05, 60.0


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
    connection: Connection,
    live: bool,
    observe: Observer | None = None,
) -> Watch:
    """Watch until `duration` has passed, `observe` returns, or SIGINT (Ctrl-C); the last two
    end it early."""
    watch = Watch(
        shown_url(url), cookie_name, duration, interval, [Session() for _ in range(sessions)],
        insecure=connection.insecure,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    # One future for "the watch is over" that every wait includes: waiting on it adds a callback,
    # not a task, so a thousand sessions cost no task per wait.
    stop: asyncio.Future[None] = loop.create_future()

    def end() -> None:
        if not stop.done():
            stop.set_result(None)

    def interrupt() -> None:
        watch.interrupted = True
        end()

    # Ctrl-C ends the watch early, in any phase; the report is still printed (no handler off the
    # main thread).
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, interrupt)
    try:
        await _first_answer(watch, url, timeout, connection, stop)
    except BaseException:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGINT)
        raise
    start = time.monotonic()

    def now() -> float:
        return time.monotonic() - start

    async def until_stopped_or(seconds: float) -> None:
        """Wait `seconds`, cut short by Ctrl-C, an observer that has seen enough, or the end."""
        seconds = min(seconds, duration - now())
        if seconds > 0 and not stop.done():
            await asyncio.wait({stop}, timeout=seconds)

    async def one(index: int) -> None:
        session = watch.sessions[index]
        # Sessions start spread over the first interval, not all in the same instant.
        await until_stopped_or(index * interval / len(watch.sessions))
        async with new_client(1, timeout, connection) as client:
            while not stop.done() and now() < duration:
                sent = now()
                request = asyncio.ensure_future(fetch(client, url, retries=0))
                either: set[asyncio.Future[Any]] = {request, stop}
                await asyncio.wait(either, timeout=duration - sent, return_when=FIRST_COMPLETED)
                if not request.done():  # cut off by the end or Ctrl-C: not a failed request
                    watch.cut_off += 1
                    request.cancel()
                    with contextlib.suppress(asyncio.CancelledError, CheckError):
                        await request
                    break
                try:
                    # No retries: a failed request is what the watch counts. pod_name refuses
                    # any answer but a 200 from what-is-my-pod (a 5xx included).
                    answer = request.result()
                    pod = pod_name(answer)
                    watch.record_answer(index, pod, sent, now() - sent)
                    if cookie_attributes(answer.set_cookies, cookie_name) is not None:
                        session.cookies_set += 1
                except CheckError as error:
                    watch.record_failure(index, sent, str(error))
                await until_stopped_or(interval - (now() - sent))

    async def show() -> None:
        while not stop.done() and now() < duration:
            print(live_line(watch, now()), end="", file=sys.stderr, flush=True)
            await asyncio.wait({stop}, timeout=0.5)
        print("\r\x1b[K", end="", file=sys.stderr, flush=True)

    async def observed(observer: Observer) -> None:
        try:
            await observer(watch, now)
        finally:  # its failure ends the watch too, and is raised once the sessions are done
            end()

    tasks = [one(i) for i in range(len(watch.sessions))] + ([show()] if live else [])
    observer = asyncio.ensure_future(observed(observe)) if observe else None
    try:
        await asyncio.gather(*tasks)
        if observer is not None:
            if not observer.done():  # the duration ran out first
                observer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await observer
    finally:
        watch.elapsed = min(now(), duration) if not stop.done() else now()
        end()
        watch.close()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGINT)
    return watch


async def _first_answer(
    watch: Watch, url: str, timeout: float, connection: Connection, stop: asyncio.Future[None]
) -> None:
    """Can it watch at all? One request first: CheckError (exit 2) if not, or if Ctrl-C comes
    before it is answered."""
    async with new_client(1, timeout, connection) as probe:
        request = asyncio.ensure_future(fetch(probe, url))
        either: set[asyncio.Future[Any]] = {request, stop}
        await asyncio.wait(either, return_when=FIRST_COMPLETED)
        if not request.done():
            request.cancel()
            with contextlib.suppress(asyncio.CancelledError, CheckError):
                await request
            raise CheckError("interrupted (Ctrl-C) before the URL answered: nothing was watched")
        first = request.result()
        pod_name(first)
        watch.cookie = cookie_attributes(first.set_cookies, watch.cookie_name)


def bounds_problem(duration: float, sessions: int, interval: float) -> str | None:
    if not 0 < duration <= MAX_WATCH_SECONDS:
        return f"--watch must be from 0 to {MAX_WATCH_SECONDS:g} seconds"
    if not 1 <= sessions <= MAX_SESSIONS:
        return f"--sessions must be from 1 to {MAX_SESSIONS}"
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        return f"--interval must be from {MIN_INTERVAL} to {MAX_INTERVAL:g} seconds"
    return None
