"""Sessions through a change: the watch behind real HAProxy and nginx on 127.0.0.1 while a pod
goes away, a pod comes, or every pod fails for a moment."""

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from tests.helpers import (
    EVENT_LIMIT,
    Scenario,
    changed,
    every_session_pinned,
    requests_after,
    until,
    watch_port,
)
from tools.check_affinity.answers import EXIT_ERROR, EXIT_NOT_STICKY, EXIT_STICKY
from tools.check_affinity.command import main
from tools.check_affinity.watch_model import MAX_MOVES, Session, Watch
from tools.local_servers.balancers import Balancer, balancer
from tools.local_servers.hostile import raw_server, silent_after
from tools.local_servers.pods import free_port, what_is_my_pod
from tools.preview.mocks import PROJECT_DIR

PODS = ["pod-a", "pod-b", "pod-c", "pod-d"]
KINDS = [
    pytest.param(
        kind,
        marks=pytest.mark.skipif(
            shutil.which(kind) is None, reason=f"{kind} is not installed (apt-get install {kind})"
        ),
    )
    for kind in ("haproxy", "nginx")
]


@contextlib.contextmanager
def running(
    kind: str, inactive: tuple[int, ...] = (), pods: list[str] = PODS
) -> Iterator[Balancer]:
    with what_is_my_pod(pods) as ports, balancer(kind, ports, "stickounet", inactive) as lb:
        yield lb


def watch(lb: Balancer, scenario: Scenario, sessions: int = 12) -> dict:
    return watch_port(lb.port, scenario, sessions)


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_changes_every_session_keeps_its_pod(kind: str) -> None:
    async def scenario(watch: Watch, now: Callable[[], float]) -> None:
        await every_session_pinned(watch)
        await requests_after(watch, 10)

    with running(kind) as lb:
        report = watch(lb, scenario)
    assert report["exitCode"] == EXIT_STICKY
    assert (report["sessions"], report["kept"], report["moved"], report["failed"]) == (12, 12, 0, 0)
    assert all(s["first_pod"] in PODS and s["moves"] == [] for s in report["per_session"])


@pytest.mark.parametrize("kind", KINDS)
def test_a_pod_taken_out_moves_exactly_its_sessions(kind: str) -> None:
    # HAProxy's cookie insert deals sessions round robin; nginx hashes each random cookie, so two
    # pods and 16 sessions (all 16 on one pod: p = 2^-15).
    pods = PODS if kind == "haproxy" else PODS[:2]
    taken_out_at = 0.0

    async def scenario(watch: Watch, now: Callable[[], float]) -> None:
        nonlocal taken_out_at
        await every_session_pinned(watch)
        taken_out_at = now()
        await changed(lambda: lb.set_active(0, False))
        pinned = [s for s in watch.sessions if s.first_pod == "pod-a"]
        await until("every session of pod-a moved", lambda: all(s.move_count for s in pinned))
        await requests_after(watch, 5)  # and the others had their chance to move too

    with running(kind, pods=pods) as lb:
        report = watch(lb, scenario, sessions=16)
    pinned = [s for s in report["per_session"] if s["first_pod"] == "pod-a"]
    others = [s for s in report["per_session"] if s["first_pod"] != "pod-a"]
    assert pinned and others
    assert report["exitCode"] == EXIT_NOT_STICKY
    for session in pinned:  # each moved once, away from the pod that went, after it went
        [move] = session["moves"]
        assert move["from"] == "pod-a" and move["to"] != "pod-a"
        assert move["at"] >= round(taken_out_at, 3) - 0.05  # a request sent as it went
    assert all(s["moves"] == [] for s in others)  # the others stayed
    assert report["moved"] == len(pinned)
    assert report["gone"] == ["pod-a"]


def test_a_pod_added_behind_haproxy_moves_no_session() -> None:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")

    async def scenario(watch: Watch, now: Callable[[], float]) -> None:
        await every_session_pinned(watch)
        await changed(lambda: lb.set_active(3, True))
        await requests_after(watch, 10)

    with running("haproxy", inactive=(3,)) as lb:
        report = watch(lb, scenario)
    assert report["exitCode"] == EXIT_STICKY  # cookie insert pins each existing session
    assert report["moved"] == 0 and "pod-d" not in report["pods"]


def test_a_pod_added_behind_a_consistent_hash_moves_sessions_only_to_it() -> None:
    # nginx hashing the cookie, as ingress-nginx's balanced mode does: a new pod takes a share
    # of the existing sessions, and no session moves anywhere else.
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")

    async def scenario(watch: Watch, now: Callable[[], float]) -> None:
        await every_session_pinned(watch)
        await changed(lambda: lb.set_active(3, True))
        await requests_after(watch, 10)

    with running("nginx", inactive=(3,)) as lb:
        report = watch(lb, scenario, sessions=24)
    moves = [m for s in report["per_session"] for m in s["moves"]]
    assert moves, "24 sessions over 4 pods and none moved to the new one (p < 1e-3)"
    assert all(m["to"] == "pod-d" for m in moves)
    assert report["failed"] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_every_pod_failing_for_a_moment_is_counted_then_recovers(kind: str) -> None:
    recovered_at = 0.0

    async def scenario(watch: Watch, now: Callable[[], float]) -> None:
        nonlocal recovered_at
        await every_session_pinned(watch)
        await changed(lambda: lb.set_all(False))
        await until("every session failing", lambda: all(s.failure_run for s in watch.sessions))
        await changed(lambda: lb.set_all(True))
        recovered_at = now()
        await until(
            "every session answered again",
            lambda: all(s.failure_run == 0 for s in watch.sessions),
        )
        await requests_after(watch, 3)

    with running(kind) as lb:
        report = watch(lb, scenario)
    assert report["exitCode"] == EXIT_NOT_STICKY
    assert report["failed"] == 12  # every session saw the outage
    for session in report["per_session"]:
        assert 1 <= session["longest_failure_run"] <= session["failures"]
    # After the outage every pod that served sessions serves them again.
    recovered = {pod for pod, seen in report["pods"].items() if seen["last"] >= recovered_at}
    assert recovered == set(report["pods"]) and recovered <= set(PODS)


def test_a_scenario_that_fails_ends_the_watch_and_says_why() -> None:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")

    async def scenario(watch: Watch, now: Callable[[], float]) -> None:
        raise AssertionError("seen enough")

    started = time.monotonic()
    with running("haproxy") as lb, pytest.raises(AssertionError, match="seen enough"):
        watch(lb, scenario)
    assert time.monotonic() - started < EVENT_LIMIT  # not the watch's whole duration


def test_a_url_that_does_not_answer_at_the_start_cannot_be_watched(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main([f"http://127.0.0.1:{free_port()}/", "--watch", "1"])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR and "could not check" in err and "unreachable" in err


@pytest.mark.parametrize(
    "argv",
    [["--watch", "0"], ["--watch", "-1"], ["--sessions", "0"], ["--interval", "0"],
     ["--interval", "nan"], ["--sessions", "1001"]],
    ids=["no time", "negative time", "no session", "no interval", "nan interval", "too many"],
)  # fmt: skip
def test_bad_watch_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["http://127.0.0.1:1/", "--watch", "1", *argv]) == EXIT_ERROR
    assert "Traceback" not in capsys.readouterr().err


def test_memory_stays_bounded_however_often_a_session_moves() -> None:
    session = Session()
    for step in range(10 * MAX_MOVES):
        session.answered("pod-a" if step % 2 else "pod-b", float(step))
    assert session.move_count == 10 * MAX_MOVES - 1 and len(session.moves) == MAX_MOVES


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_ctrl_c_ends_the_watch_early_with_the_full_report() -> None:
    with what_is_my_pod(PODS) as ports, balancer("haproxy", ports, "stickounet") as lb:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.check_affinity", f"http://127.0.0.1:{lb.port}/",
             "--watch", "60", "--sessions", "3", "--interval", "0.1", "--json"],
            cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        # The watch is under way once its sessions have been answered a few times each.
        deadline = time.monotonic() + EVENT_LIMIT
        while ports.answered < 1 + 3 * 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    report = json.loads(out)
    assert report["interrupted"] is True and report["seconds"] < 30
    assert report["kept"] == 3 and process.returncode == EXIT_STICKY
    assert "Traceback" not in err


def interrupted_watch(port: int, *, connections: int, seen: Callable[[], int]) -> tuple:
    """Start a watch of 3 sessions with a 60 s request timeout, press Ctrl-C once the server
    holds `connections` connections, and return the exit code, the output and how long the
    watch took to end after Ctrl-C."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.check_affinity", f"http://127.0.0.1:{port}/",
         "--watch", "120", "--sessions", "3", "--timeout", "60", "--json"],
        cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + EVENT_LIMIT
    while seen() < connections and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the requests are on their way and the server holds them
    pressed = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err, time.monotonic() - pressed


def test_ctrl_c_while_the_first_request_hangs_ends_at_once_in_one_line() -> None:
    held = silent_after(0, b"")
    with counted(held) as (port, seen):
        code, out, err, took = interrupted_watch(port, connections=1, seen=seen)
    assert code == EXIT_ERROR and took < 5 and out == ""
    assert err.strip() == (
        "check_affinity: could not check: interrupted (Ctrl-C) before the URL answered: "
        "nothing was watched"
    )


def test_ctrl_c_while_every_session_waits_on_a_hanging_request_prints_the_report() -> None:
    held = silent_after(1, b'HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\nHello "pod-a"!\n')
    with counted(held) as (port, seen):
        code, out, err, took = interrupted_watch(port, connections=4, seen=seen)
    report = json.loads(out)
    assert took < 5 and report["interrupted"] is True
    # Requests cut off by Ctrl-C are not failures; with no answer there is nothing to judge.
    assert report["failed"] == 0 and report["requests"] == 0
    assert code == report["exitCode"] == EXIT_ERROR
    assert "before any session had an answer: interrupted (Ctrl-C)" in err
    assert "Traceback" not in err and "Exception ignored" not in err


@contextlib.contextmanager
def counted(answer: Callable) -> Iterator[tuple[int, Callable[[], int]]]:
    """A raw server and how many connections it has taken so far."""
    taken = 0

    def counting(connection: object) -> None:
        nonlocal taken
        taken += 1
        answer(connection)

    with raw_server(counting) as port:
        yield port, lambda: taken
