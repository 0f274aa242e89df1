"""The affinity check against real load balancers (HAProxy, nginx) on 127.0.0.1."""

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tools.check_affinity.answers import (
    EXIT_ERROR,
    EXIT_NOT_STICKY,
    EXIT_STICKY,
    cookie_attributes,
)
from tools.check_affinity.command import main
from tools.local_servers.balancers import LOAD_BALANCERS
from tools.local_servers.pods import free_port, http_servers, what_is_my_pod
from tools.preview.mocks import PROJECT_DIR

PODS = [
    "what-is-my-pod-deployment-78f7cd684f-5gtf9",
    "what-is-my-pod-deployment-78f7cd684f-k2zpp",
    "what-is-my-pod-deployment-78f7cd684f-xvwvh",
]


def _balancer(name: str) -> object:
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed (apt-get install {name}; .ci/run installs it)")
    return LOAD_BALANCERS[name]


@pytest.fixture(params=sorted(LOAD_BALANCERS))
def balancer(request: pytest.FixtureRequest) -> object:
    return _balancer(request.param)


@pytest.fixture(scope="module")
def pods() -> Iterator[list[int]]:
    with what_is_my_pod(PODS) as ports:
        yield ports


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out else {})


def test_sticky_cookie_is_reported_sticky(
    balancer: object, pods: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    with balancer(pods, "stickounet") as port:
        # 40 fresh clients: a hashing balancer leaves a pod without one with p < 1e-6
        code, report = check(
            capsys, f"http://127.0.0.1:{port}/", "--requests", "30", "--clients", "40"
        )
    assert code == EXIT_STICKY
    assert report["verdict"] == "sticky"
    assert sum(report["sticky"]["pods"].values()) == 30
    assert len(report["sticky"]["pods"]) == 1
    assert report["cookie"]["set"] is True
    assert report["cookie"]["attributes"]["Path"] == "/"
    assert report["cookie"]["attributes"]["HttpOnly"] is True
    assert set(report["spread"]["pods"]) == set(PODS)  # new clients are still balanced
    assert report["warnings"] == []


def test_round_robin_without_cookie_is_not_sticky(
    balancer: object, pods: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    with balancer(pods, None) as port:
        code, report = check(capsys, f"http://127.0.0.1:{port}/")
    assert code == EXIT_NOT_STICKY
    assert report["cookie"]["set"] is False
    assert len(report["sticky"]["pods"]) == 3


def test_another_cookie_name_is_a_missing_cookie(
    balancer: object, pods: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    with balancer(pods, "route") as port:
        code, report = check(capsys, f"http://127.0.0.1:{port}/")
        assert code == EXIT_NOT_STICKY
        assert report["verdict"] == "cookie-missing"
        assert report["cookie"]["cookiesSet"] == ["route"]
        assert len(report["sticky"]["pods"]) == 1  # sticky, but not with the expected cookie
        code, report = check(capsys, f"http://127.0.0.1:{port}/", "--cookie-name", "route")
        assert code == EXIT_STICKY


def test_nginx_cookie_carries_max_age_as_ingress_nginx_does(
    pods: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    with _balancer("nginx")(pods, "stickounet") as port:
        _, report = check(capsys, f"http://127.0.0.1:{port}/")
    assert report["cookie"]["attributes"]["Max-Age"] == "172800"


def test_one_pod_is_sticky_with_a_warning_about_balancing(
    balancer: object, capsys: pytest.CaptureFixture[str]
) -> None:
    with what_is_my_pod(PODS[:1]) as ports, balancer(ports, "stickounet") as port:
        code, report = check(capsys, f"http://127.0.0.1:{port}/", "--clients", "5")
    assert code == EXIT_STICKY
    assert len(report["warnings"]) == 1 and "balancing" in report["warnings"][0]


def test_unreachable_port_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens there
    code = main([f"http://127.0.0.1:{port}/", "--timeout", "1"])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert err.count("\n") == 1 and "unreachable" in err and str(port) in err


def test_a_server_that_is_not_what_is_my_pod_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with http_servers(["<html><body>It works!</body></html>"]) as [port]:
        code = main([f"http://127.0.0.1:{port}/"])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "not a what-is-my-pod response" in err and "It works!" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["http://127.0.0.1:1/", "--requests", "0"],
        ["http://127.0.0.1:1/", "--concurrency", "none"],
        ["http://127.0.0.1:1/", "--timeout", "-1"],
        ["ftp://127.0.0.1/"],
        ["http://127.0.0.1:1/", "--unknown"],
    ],
    ids=[
        "zero requests",
        "concurrency not a number",
        "negative timeout",
        "not http",
        "unknown flag",
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == EXIT_ERROR
    assert "Traceback" not in capsys.readouterr().err


def test_without_url_or_pulumi_cli_asks_for_a_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert main([]) == EXIT_ERROR
    assert "pass the URL" in capsys.readouterr().err


def test_piped_output_is_a_summary_without_progress_bar(pods: list[int]) -> None:
    balancer = _balancer("haproxy")
    with balancer(pods, "stickounet") as port:
        result = subprocess.run(
            [sys.executable, "-m", "tools.check_affinity", f"http://127.0.0.1:{port}/"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == EXIT_STICKY, result.stderr
    assert result.stderr == ""  # tqdm stays quiet when stderr is not a terminal
    assert "Verdict: STICKY" in result.stdout
    assert "█" in result.stdout  # the distribution chart


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            ["stickounet=abc; Path=/; Max-Age=172800; HttpOnly"],
            {"Path": "/", "Max-Age": "172800", "HttpOnly": True, "Secure": False},
        ),
        (
            ["other=1", "stickounet=x; Secure; SameSite=Lax"],
            {"Secure": True, "SameSite": "Lax", "HttpOnly": False},
        ),
        (["other=1; Path=/"], None),
    ],
    ids=["attributes", "second header, secure", "absent"],
)
def test_cookie_attributes_are_reported_as_received(
    headers: list[str], expected: dict | None
) -> None:
    attributes = cookie_attributes(headers, "stickounet")
    if expected is None:
        assert attributes is None
    else:
        assert expected.items() <= attributes.items()
