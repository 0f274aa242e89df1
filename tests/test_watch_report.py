"""The watch's HTML report, opened in a real browser (headless Chromium): one self-contained
page, nothing fetched, no console error, one row per session and the marks the JSON reports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import changed, every_session_pinned, requests_after, watch_port
from tools.check_affinity.answers import EXIT_ERROR
from tools.check_affinity.command import main
from tools.check_affinity.watch_html import write_report
from tools.check_affinity.watch_model import Watch
from tools.local_servers.balancers import Balancer, balancer
from tools.local_servers.pods import what_is_my_pod

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_a_browser = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)
needs_haproxy = pytest.mark.skipif(
    shutil.which("haproxy") is None, reason="haproxy is not installed (apt-get install haproxy)"
)


def browse(page: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Chromium opening the file with the network refused: anything it tried to fetch fails
    and is logged, and so is every console message."""
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--v=0", "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
         *arguments, page.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, Watch]:
    """A watch of 16 sessions while a pod goes, its JSON and its HTML report."""
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    seen: list[Watch] = []
    lb: Balancer

    async def scenario(watch: Watch, now: Callable[[], float]) -> None:
        seen.append(watch)
        await every_session_pinned(watch)
        await changed(lambda: lb.set_active(0, False))
        await requests_after(watch, 4)

    with (
        what_is_my_pod(["pod-a", "pod-b", "pod-c"]) as ports,
        balancer("haproxy", ports, "stickounet") as lb,
    ):
        report = watch_port(lb.port, scenario, sessions=16)
    page = tmp_path_factory.mktemp("report") / "watch.html"
    write_report(seen[0], page)
    return report, page, seen[0]


def test_the_report_is_self_contained(watched: tuple[dict, Path, Watch]) -> None:
    _, page, _ = watched
    text = page.read_text()
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)


@needs_a_browser
def test_the_browser_renders_a_row_per_session_and_the_marks_of_the_json(
    watched: tuple[dict, Path, Watch], tmp_path: Path
) -> None:
    report, page, _ = watched
    picture = tmp_path / "watch.png"  # the same launch takes the picture a person would see
    result = browse(page, "--dump-dom", f"--screenshot={picture}", "--window-size=1000,400")
    dom = result.stdout
    assert dom.count('class="session"') == report["sessions"] == 16
    moves = sum(len(s["moves"]) for s in report["per_session"])
    assert moves and dom.count('class="move"') == moves
    failures = sum(1 for e in report["events"] if e["kind"] == "failed")
    assert dom.count('class="failure"') == failures
    assert dom.count('class="pod"') == len(report["pods"])
    assert f'data-exit-code="{report["exitCode"]}"' in dom
    seconds = len(report["per_stretch"]["latency_mean_max_ms"])
    for kind in ("latency-mean", "latency-max"):  # one point per second of the JSON
        points = re.search(rf'class="{kind}"[^>]*points="([^"]*)"', dom)
        assert points is not None and len(points.group(1).split()) == seconds > 0
    assert "CONSOLE" not in result.stderr  # no console message, no error
    assert "ERR_NAME_NOT_RESOLVED" not in result.stderr and "ERR_PROXY" not in result.stderr
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("report.txt", "name an .html file"), ("missing-folder/report.html", "does not exist")],
)
def test_a_bad_report_path_is_one_clear_error_before_the_watch(
    name: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["http://127.0.0.1:1/", "--watch", "1", "--report", str(tmp_path / name)])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR and expected in err and err.count("\n") == 1
    assert "Traceback" not in err


def test_a_folder_as_report_path_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "report.html"
    folder.mkdir()
    assert main(["http://127.0.0.1:1/", "--watch", "1", "--report", str(folder)]) == EXIT_ERROR
    assert "is a folder" in capsys.readouterr().err


@needs_haproxy
def test_the_report_is_written_by_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "watch.html"
    with (
        what_is_my_pod(["pod-a", "pod-b"]) as ports,
        balancer("haproxy", ports, "stickounet") as lb,
    ):
        code = main([f"http://127.0.0.1:{lb.port}/", "--watch", "0.5", "--sessions", "5",
                     "--interval", "0.1", "--report", str(page), "--json"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == report["exitCode"] and page.read_text().count('class="session"') == 5
