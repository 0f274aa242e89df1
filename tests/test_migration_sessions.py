"""What a move from ingress-nginx to Traefik does to live sessions, measured behind the real
controllers: the real ingress-nginx Lua balancer (Debian's nginx) and the real Traefik, side by
side in front of the same pods, each serving the Ingress the side-by-side phase declares.

A session is a client with a cookie jar: it is pinned by ingress-nginx, then sends its cookie to
Traefik (the cut-over), then back to ingress-nginx (a rollback). docs/controllers.md and the
README quote what these tests measure."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

import pytest

from tests.helpers import run_ok
from tools.check_affinity.answers import EXIT_STICKY
from tools.check_affinity.command import main as check_affinity
from tools.local_servers import ingress_nginx as nginx
from tools.local_servers import traefik as real_traefik
from tools.local_servers.fleet import Fleet, fleet
from tools.preview.recorded import kubernetes_objects, manifest

PODS = ("pod-a", "pod-b", "pod-c")
HOST = "sticky.example.com"  # the Ingress answers for it only
SESSIONS = 30
COOKIE = "stickounet"
MISSING = nginx.missing()
if MISSING is None:
    try:
        real_traefik.find_traefik()
    except real_traefik.TraefikUnavailable as error:
        MISSING = str(error)


@dataclass
class Controllers:
    mode: str  # affinity.mode
    nginx: int  # the ports each serves the app on
    traefik: int
    pods: Fleet


MODES = ("balanced", "persistent")
EITHER_MODE = pytest.mark.parametrize("side_by_side", MODES, indirect=True)


@pytest.fixture(scope="module")
def side_by_side(request: pytest.FixtureRequest) -> Iterator[Controllers]:
    """Both real controllers serving the side-by-side phase's Ingress, over the same pods."""
    if MISSING is not None:
        pytest.skip(MISSING)
    run = run_ok(
        ingress={"controller": "traefik", "migration": "side-by-side"},
        affinity={"mode": request.param},
        app={"host": HOST},
    )
    found = {m["kind"]: m for m in map(manifest, kubernetes_objects(run))}
    with contextlib.ExitStack() as stack:
        pods = stack.enter_context(fleet(*PODS))
        endpoints = pods.endpoints(*PODS)
        first = stack.enter_context(nginx.ingress_nginx(found["Ingress"], endpoints))
        second = stack.enter_context(
            real_traefik.traefik(
                found["Ingress"], found["Service"], found["IngressClass"], endpoints
            )
        )
        yield Controllers(request.param, first.port, second.port, pods)


@dataclass
class Session:
    """One client's cookie jar and what it saw."""

    cookie: str | None = None
    pods: list[str] = field(default_factory=list)
    set_cookies: list[str | None] = field(default_factory=list)  # per request, the value set

    def get(self, port: int) -> str:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            headers = {"Host": HOST}
            if self.cookie:
                headers["Cookie"] = f"{COOKIE}={self.cookie}"
            connection.request("GET", "/", headers=headers)
            response = connection.getresponse()
            body = response.read().decode()
            assert response.status == 200, body
            jar: SimpleCookie = SimpleCookie()
            for header in response.headers.get_all("Set-Cookie") or []:
                jar.load(header)
        finally:
            connection.close()
        value = jar[COOKIE].value if COOKIE in jar else None
        if value is not None:
            self.cookie = value
        self.set_cookies.append(value)
        pod = re.search(r'Hello "([^"]+)"', body)
        assert pod, body
        self.pods.append(pod.group(1))
        return pod.group(1)


@dataclass
class Moves:
    mode: str
    sessions: list[Session]
    nginx_cookies: list[str]
    traefik_cookies: list[str]
    kept_at_cut_over: int  # sessions Traefik sent to the pod ingress-nginx had pinned
    kept_at_rollback: int


def move_all(sessions: list[Session], port: int) -> tuple[int, list[str]]:
    """Each session sends 3 requests to the controller at `port`; how many got the pod they had
    before on the first, and their cookies after."""
    kept = 0
    for session in sessions:
        pinned = session.pods[-1] if session.pods else None
        for _ in range(3):
            session.get(port)
        kept += session.pods[-3] == pinned
    return kept, [session.cookie or "" for session in sessions]


@pytest.fixture(scope="module")
def moves(side_by_side: Controllers) -> Moves:
    """Every session: 3 requests to ingress-nginx, 3 to Traefik with the same jar, 3 back."""
    sessions = [Session() for _ in range(SESSIONS)]
    _, nginx_cookies = move_all(sessions, side_by_side.nginx)
    kept_at_cut_over, traefik_cookies = move_all(sessions, side_by_side.traefik)
    kept_at_rollback, _ = move_all(sessions, side_by_side.nginx)
    return Moves(
        side_by_side.mode,
        sessions,
        nginx_cookies,
        traefik_cookies,
        kept_at_cut_over,
        kept_at_rollback,
    )


@pytest.mark.parametrize("side_by_side", ["persistent"], indirect=True)
def test_the_side_by_side_address_is_checked_with_the_site_s_host_name(
    side_by_side: Controllers, capsys: pytest.CaptureFixture[str]
) -> None:
    # What the team runs before the cut-over: the site's URL, connected to Traefik's address.
    for port in (side_by_side.traefik, side_by_side.nginx):
        url = f"http://{HOST}:{port}/"
        code = check_affinity([url, "--connect-to", "127.0.0.1", "--json", "--clients", "12"])
        report = json.loads(capsys.readouterr().out)
        assert code == EXIT_STICKY, report
        # Balanced over the pods: a dozen fresh clients do not always reach all three (one
        # run in seven reached two).
        spread = set(report["spread"]["pods"])
        assert spread <= set(PODS) and len(spread) >= 2, report


@EITHER_MODE
def test_each_controller_keeps_its_own_sessions_on_their_pod(moves: Moves) -> None:
    for session in moves.sessions:
        assert len(set(session.pods[0:3])) == 1  # ingress-nginx
        assert len(set(session.pods[3:6])) == 1  # Traefik
        assert len(set(session.pods[6:9])) == 1  # ingress-nginx again


# ingress-nginx's value is `<key>|<backend key>` (balancer/sticky.lua, set_cookie): the key is
# the endpoint's md5 in persistent mode (sticky_persistent.lua) and a random point of the hash
# ring in balanced mode (sticky_balanced.lua: "<time>.<pid>.<random>"). Traefik's is a 16-digit
# hash of the pod's URL.
NGINX_COOKIE = {
    "balanced": r"[0-9.]+\.[0-9]+\.[0-9]+\|[0-9a-f]{32}",
    "persistent": r"[0-9a-f]{32}\|[0-9a-f]{32}",
}
TRAEFIK_COOKIE = r"[0-9a-f]{16}"


@EITHER_MODE
def test_both_use_the_ingress_s_cookie_name_with_values_of_their_own(moves: Moves) -> None:
    assert all(re.fullmatch(NGINX_COOKIE[moves.mode], value) for value in moves.nginx_cookies)
    assert all(re.fullmatch(TRAEFIK_COOKIE, value) for value in moves.traefik_cookies)


@EITHER_MODE
def test_at_the_cut_over_traefik_repins_every_session_with_a_new_cookie(moves: Moves) -> None:
    for session in moves.sessions:
        # Its first answer sets Traefik's cookie: ingress-nginx's value means nothing to it.
        assert session.set_cookies[3] is not None and session.set_cookies[4:6] == [None, None]
    # A session lands on its old pod only by chance (about one in three with three pods).
    assert moves.kept_at_cut_over < SESSIONS
    print(f"{moves.mode} cut-over: {moves.kept_at_cut_over} of {SESSIONS} kept their pod")


@pytest.mark.parametrize("side_by_side", ["persistent"], indirect=True)
def test_a_rollback_in_persistent_mode_repins_every_session_with_a_new_cookie(
    moves: Moves,
) -> None:
    # Traefik's value is no endpoint ingress-nginx knows: a new pod is picked, a cookie set.
    assert all(session.set_cookies[6] is not None for session in moves.sessions)
    assert all(re.fullmatch(NGINX_COOKIE["persistent"], s.cookie or "") for s in moves.sessions)
    assert moves.kept_at_rollback < SESSIONS
    print(f"persistent rollback: {moves.kept_at_rollback} of {SESSIONS} kept their pod")


@pytest.mark.parametrize("side_by_side", ["balanced"], indirect=True)
def test_a_rollback_in_balanced_mode_hashes_traefik_s_cookie_and_sets_none(moves: Moves) -> None:
    # The balanced balancer looks any value up on its hash ring: no new cookie, and every
    # session Traefik had on one pod (one value) lands on one pod, together.
    assert all(session.set_cookies[6:9] == [None, None, None] for session in moves.sessions)
    landed: dict[str, set[str]] = {}
    for session in moves.sessions:
        landed.setdefault(session.cookie or "", set()).add(session.pods[6])
    assert all(len(pods) == 1 for pods in landed.values()), landed
    print(f"balanced rollback: {moves.kept_at_rollback} of {SESSIONS} kept their pod")
