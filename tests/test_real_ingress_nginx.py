"""Sessions behind the real ingress-nginx v1.15.1 balancer: the controller's Lua in Debian's
nginx, fed the backends the controller would POST for the program's own Ingress. What the docs
say a controller does to sessions is measured here, not assumed."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import shutil
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    EVENT_LIMIT,
    Scenario,
    changed,
    every_session_pinned,
    requests_after,
    run_ok,
    the_ingress,
    until,
    watch_port,
    with_annotations,
)
from tools.check_affinity.answers import EXIT_NOT_STICKY, EXIT_STICKY
from tools.check_affinity.client import Connection
from tools.check_affinity.command import main
from tools.check_affinity.watch import watch_sessions
from tools.check_affinity.watch_model import Watch
from tools.local_servers import ingress_nginx as real
from tools.local_servers.controller_backends import PREFIX, backends, cookie_session_affinity
from tools.local_servers.fleet import Fleet, fleet
from tools.local_servers.hostile import throwaway_ca
from tools.preview.recorded import ProgramRun

MISSING = real.missing()
# One worker runs this module (`--dist loadscope`), and its balancers live for the session: they
# start together, the rollouts run meanwhile, and nothing is started twice.
PODS = ("pod-a", "pod-b", "pod-c")


# --- the backends the controller POSTs, from the program's Ingress ------------------------------


def test_the_dev_ingress_becomes_one_sticky_backend_on_every_pod(dev: ProgramRun) -> None:
    [backend] = backends(the_ingress(dev), [("10.2.0.5", 8080), ("10.2.1.7", 8080)])
    assert backend["name"] == "default-what-is-my-pod-8080"
    assert backend["endpoints"] == [
        {"address": "10.2.0.5", "port": "8080"},
        {"address": "10.2.1.7", "port": "8080"},
    ]
    affinity = backend["sessionAffinityConfig"]
    assert (affinity["name"], affinity["mode"]) == ("cookie", "balanced")
    assert affinity["cookieSessionAffinity"] == {
        "name": "stickounet",
        "expires": "172800",
        "maxage": "172800",
        "path": "/",
        "locations": {"_": ["/"]},
    }


def test_secure_false_never_reaches_the_balancer(dev: ProgramRun) -> None:
    # types.go: `Secure bool json:"secure,omitempty"`; "false" and "true" differ in presence.
    assert "secure" not in cookie_session_affinity({PREFIX + "session-cookie-secure": "false"})
    assert cookie_session_affinity({PREFIX + "session-cookie-secure": "true"})["secure"] is True
    # strconv.ParseBool refuses "yes": the controller drops it as it drops "false".
    assert "secure" not in cookie_session_affinity({PREFIX + "session-cookie-secure": "yes"})


def test_prod_routes_its_host_and_keeps_its_settings(prod: ProgramRun) -> None:
    [backend] = backends(the_ingress(prod), [("10.2.0.5", 8080)])
    cookie = backend["sessionAffinityConfig"]["cookieSessionAffinity"]
    assert backend["sessionAffinityConfig"]["mode"] == "persistent"
    assert cookie["locations"] == {"sticky.example.com": ["/"]}
    assert (cookie["samesite"], cookie["secure"]) == ("Lax", True)


# --- the balancers of this module, started side by side ---------------------------------------
# Each waits for the real balancer's one-second sync of its first backends; started together,
# they wait together. The rollouts run in a thread from the start, while the other tests run.

AFFINITY_SETTINGS = {
    "persistent": {"mode": "persistent"},
    "change on failure": {"changeOnFailure": True},
    "strict, a cookie path": {"sameSite": "Strict", "path": "/", "cookieName": "route_1"},
    "short lived": {"maxAge": 60, "expires": 60},
}
FAILURES = {
    "stopped, change on failure": True,
    "stopped, no change on failure": False,
    "HTTP 500, change on failure": True,
}
ROLLED_OUT_SESSIONS = {"balanced": 48, "persistent": 24}


@dataclass
class Started:
    balancers: dict[str, tuple[real.IngressNginx, Fleet]]
    certificates: Any
    rollouts: concurrent.futures.Future[dict[str, tuple[dict, dict[str, Any]]]]


def _enter(stack: contextlib.ExitStack, make: Callable[[], Any]) -> Any:
    context = make()
    value = context.__enter__()
    stack.push(context.__exit__)
    return value


@pytest.fixture(scope="session")
def started(dev: ProgramRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    if MISSING is not None:
        pytest.skip(MISSING)
    certificates = throwaway_ca(tmp_path_factory.mktemp("ca"))
    # The program runs in this thread only (the Pulumi runtime is not thread-safe).
    wanted: dict[str, tuple[dict[str, Any], tuple[str, ...], Any]] = {
        "dev": (the_ingress(dev), PODS, None),
        "https, told false": (
            with_annotations(the_ingress(dev), session_cookie_secure="false"),
            PODS,
            certificates,
        ),
    }
    for name, affinity in AFFINITY_SETTINGS.items():
        wanted[name] = (the_ingress(run_ok(affinity=affinity)), PODS, None)
    for name, change in FAILURES.items():
        wanted[name] = (the_ingress(run_ok(affinity={"changeOnFailure": change})), PODS[:2], None)
    for mode in ROLLED_OUT_SESSIONS:
        wanted[mode] = (the_ingress(run_ok(affinity={"mode": mode})), BEFORE_ROLLOUT, None)
    with contextlib.ExitStack() as stack, concurrent.futures.ThreadPoolExecutor(16) as pool:
        pods = {
            name: _enter(stack, lambda n=names: fleet(*n)) for name, (_, names, _) in wanted.items()
        }
        lock = threading.Lock()

        def start(name: str) -> real.IngressNginx:
            ingress, names, tls = wanted[name]
            context = real.ingress_nginx(ingress, pods[name].endpoints(*names), tls)
            balancer = context.__enter__()
            with lock:
                stack.push(context.__exit__)
            return balancer

        balancers = dict(zip(wanted, pool.map(start, wanted), strict=True))
        rollouts = pool.submit(
            roll_out, {mode: (balancers[mode], pods[mode]) for mode in ROLLED_OUT_SESSIONS}
        )
        yield Started({n: (b, pods[n]) for n, b in balancers.items()}, certificates, rollouts)
        rollouts.result()  # not left running when the balancers stop


def check(capsys: pytest.CaptureFixture[str], url: str, *argv: str) -> tuple[int, dict]:
    code = main([url, "--requests", "20", "--clients", "24", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


# --- the checker behind the real balancer ---------------------------------------------------------


def test_the_dev_stack_is_sticky_with_the_tutorials_cookie(
    started: Started, capsys: pytest.CaptureFixture[str]
) -> None:
    lb, _ = started.balancers["dev"]
    code, report = check(capsys, f"http://127.0.0.1:{lb.port}/")
    assert code == EXIT_STICKY and report["verdict"] == "sticky"
    attributes = report["cookie"]["attributes"]
    assert (attributes["Path"], attributes["Max-Age"]) == ("/", "172800")
    assert attributes["HttpOnly"] is True and attributes["Secure"] is False
    assert "Expires" in attributes and "SameSite" not in attributes
    assert set(report["spread"]["pods"]) == set(PODS)  # new sessions are balanced


@pytest.mark.parametrize("name", AFFINITY_SETTINGS)
def test_every_affinity_setting_stays_sticky_and_reaches_the_cookie(
    started: Started, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    affinity = AFFINITY_SETTINGS[name]
    lb, _ = started.balancers[name]
    cookie = affinity.get("cookieName", "stickounet")
    code, report = check(capsys, f"http://127.0.0.1:{lb.port}/", "--cookie-name", cookie)
    assert code == EXIT_STICKY, report
    attributes = report["cookie"]["attributes"]
    assert attributes.get("SameSite") == affinity.get("sameSite")
    assert attributes["Max-Age"] == str(affinity.get("maxAge", 172800))


def test_over_https_the_cookie_is_secure_even_when_told_false(
    started: Started, capsys: pytest.CaptureFixture[str]
) -> None:
    # sticky.lua: `secure == nil` (the controller dropped "false") means `ngx.var.https == "on"`.
    lb, _ = started.balancers["https, told false"]
    url = f"https://127.0.0.1:{lb.port}/"
    code, report = check(capsys, url, "--ca-cert", str(started.certificates.ca))
    assert code == EXIT_STICKY
    assert report["cookie"]["attributes"]["Secure"] is True


# --- a pod failing, with and without change-on-failure --------------------------------------------


def failed(started: Started, name: str, fail: Callable[[Fleet], None]) -> list[dict[str, Any]]:
    """Watch 12 sessions while pod-a fails; the sessions that were on pod-a."""
    lb, pods = started.balancers[name]

    async def scenario(watch: Watch, now: Callable[[], float]) -> None:
        await every_session_pinned(watch)
        await changed(lambda: fail(pods))  # pod-a is still listed: no endpoint update yet
        # One request may have been in flight when the pod changed: 6 after it, 5 failed at least.
        await requests_after(watch, 6)

    report = watch_port(lb.port, scenario, sessions=12)
    on_a = [s for s in report["per_session"] if s["first_pod"] == "pod-a"]
    assert on_a, "12 sessions and none on pod-a (p = 2^-11)"
    return on_a


def test_a_pod_whose_process_is_gone_repins_with_change_on_failure(started: Started) -> None:
    on_a = failed(started, "stopped, change on failure", lambda pods: pods.stop("pod-a"))
    # nginx retried on pod-b, and the balancer re-pinned the session there: a new cookie.
    assert all(s["failures"] == 0 and s["cookies_set"] >= 2 for s in on_a)
    assert all(m["to"] == "pod-b" for s in on_a for m in s["moves"])


def test_without_change_on_failure_a_session_stays_on_a_gone_pod(started: Started) -> None:
    on_a = failed(started, "stopped, no change on failure", lambda pods: pods.stop("pod-a"))
    # The cookie still names pod-a: every retry goes there and fails until the endpoint goes.
    assert all(s["failures"] >= 5 and s["cookies_set"] == 1 for s in on_a)


def test_change_on_failure_ignores_an_http_500(started: Started) -> None:
    def fail(pods: Fleet) -> None:
        pods.pods["pod-a"].failing = True

    on_a = failed(started, "HTTP 500, change on failure", fail)
    # A 500 is an answer, not a failed connection: no retry, no re-pin; each session fails on
    # (a re-pin on the first 500 would have ended its failures there).
    assert all(s["failures"] >= 5 for s in on_a), on_a


# --- a rollout as Kubernetes does it: a surge pod ready, then an old pod gone, pod by pod --------


# Two replicas, as few as show it: each step a surge pod, then one old pod gone.
BEFORE_ROLLOUT = ("pod-a", "pod-b")
ROLLOUT = [("pod-c", "pod-a"), ("pod-d", "pod-b")]


def rollout_scenario(lb: real.IngressNginx, pods: Fleet, seen: dict[str, Any]) -> Scenario:
    async def scenario(watch: Watch, now: Callable[[], float]) -> None:
        await every_session_pinned(watch)
        current = list(BEFORE_ROLLOUT)
        for step, (surge, old) in enumerate(ROLLOUT):
            pods.add(surge)
            current.append(surge)
            await changed(lambda c=tuple(current): lb.set_endpoints(pods.endpoints(*c)))
            await requests_after(watch, 3)
            if step == 0:  # after the first surge pod, before any old pod went
                seen["pods after the first surge"] = [s.pod for s in watch.sessions]
            current.remove(old)
            await changed(lambda c=tuple(current): lb.set_endpoints(pods.endpoints(*c)))
            await until(
                f"no session on {old}", lambda o=old: all(s.pod != o for s in watch.sessions)
            )
            await requests_after(watch, 3)

    return scenario


def roll_out(
    serving: Mapping[str, tuple[real.IngressNginx, Fleet]],
) -> dict[str, tuple[dict, dict[str, Any]]]:
    """One rollout per affinity mode, watched side by side."""
    seen: dict[str, dict[str, Any]] = {mode: {} for mode in serving}
    watches = [
        watch_sessions(
            f"http://127.0.0.1:{lb.port}/", "stickounet", 4 * EVENT_LIMIT,
            ROLLED_OUT_SESSIONS[mode], 0.1, 5.0, Connection(), live=False,
            observe=rollout_scenario(lb, pods, seen[mode]),
        )
        for mode, (lb, pods) in serving.items()
    ]  # fmt: skip

    async def together() -> list[Watch]:
        return await asyncio.gather(*watches)

    return {
        mode: (watch.as_json(), seen[mode])
        for mode, watch in zip(serving, asyncio.run(together()), strict=True)
    }


@pytest.fixture(scope="session")
def rolled_out(started: Started) -> dict[str, tuple[dict, dict[str, Any]]]:
    return started.rollouts.result(timeout=8 * EVENT_LIMIT)


@pytest.mark.parametrize("mode", list(ROLLED_OUT_SESSIONS))
def test_a_rollout_moves_sessions_more_than_once_in_either_mode(
    rolled_out: dict[str, tuple[dict, dict[str, Any]]], mode: str
) -> None:
    report, _ = rolled_out[mode]
    sessions = ROLLED_OUT_SESSIONS[mode]
    assert report["failed"] == 0  # maxUnavailable 0 and a drained pod: no request lost
    assert report["moved"] == sessions  # every old pod went, so every session moved
    assert max(s["moves_total"] for s in report["per_session"]) >= 2, "p < 1e-3"
    final = {s["moves"][-1]["to"] for s in report["per_session"]}
    assert final <= {"pod-c", "pod-d"}
    assert report["exitCode"] == EXIT_NOT_STICKY


def test_balanced_mode_moves_keep_their_cookie_and_a_surge_pod_takes_sessions_of_others(
    rolled_out: dict[str, tuple[dict, dict[str, Any]]],
) -> None:
    balanced, seen = rolled_out["balanced"]
    # The cookie's key is re-hashed onto the new ring: no new cookie for a moved session.
    assert all(s["cookies_set"] == 1 for s in balanced["per_session"])
    # A surge pod takes sessions from a pod that is not being replaced (pod-b at that step).
    first = {index: s["first_pod"] for index, s in enumerate(balanced["per_session"])}
    taken = [i for i, pod in enumerate(seen["pods after the first surge"]) if pod == "pod-c"]
    assert any(first[i] == "pod-b" for i in taken), "48 sessions, p < 1e-4"


def test_persistent_mode_repins_only_a_session_whose_pod_went_with_a_new_cookie(
    rolled_out: dict[str, tuple[dict, dict[str, Any]]],
) -> None:
    persistent, seen = rolled_out["persistent"]
    assert all(s["cookies_set"] == 1 + s["moves_total"] for s in persistent["per_session"])
    assert all(pod in BEFORE_ROLLOUT for pod in seen["pods after the first surge"])  # none moved


# --- the vendored balancer is the one upstream released ---------------------------------------


def test_every_vendored_file_matches_its_recorded_digest() -> None:
    real.check_digests()
    listed = {line.split()[1] for line in (real.VENDORED / "SHA256SUMS").read_text().splitlines()}
    manifest_files = {
        line.split()[1]
        for line in (real.VENDORED / "MANIFEST").read_text().splitlines()
        if not line.startswith("#")
    }
    assert listed == manifest_files and "ingress-nginx/balancer/sticky.lua" in listed


def test_a_changed_vendored_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    copy = tmp_path / "vendored"
    shutil.copytree(real.VENDORED, copy)
    (copy / "ingress-nginx" / "balancer" / "sticky.lua").write_text("-- changed\n")
    monkeypatch.setattr(real, "VENDORED", copy)
    with pytest.raises(real.Unavailable, match=r"sticky\.lua does not match SHA256SUMS"):
        real.check_digests()
