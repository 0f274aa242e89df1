"""The example of docs/sessions.md: `python -m benchmarks.watch_report` watches 24 sessions
behind HAProxy while one of three look-alike pods goes away, writes the HTML report with the
checker's own `--report`, and takes its picture with headless Chromium into
docs/watch-report.png.

`python -m benchmarks.watch_report --scale`: the page for 1,000 sessions over an hour, made up in
memory (tools/check_affinity/simulated.py) twice: through a rollout every 10 minutes, and with
every list the watch keeps at its cap; prints each page's size, the time to render it, and the
time headless Chromium takes to open it and draw it into a picture (median of 3), beside the
same for the 24-session example.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tools.check_affinity import simulated
from tools.check_affinity.command import main as check_affinity
from tools.check_affinity.watch_html import write_report
from tools.local_servers.balancers import balancer
from tools.local_servers.pods import what_is_my_pod
from tools.preview.mocks import PROJECT_DIR

PODS = [f"what-is-my-pod-7d9f-{suffix}" for suffix in "abc"]


def opened_in(chromium: str, page: Path, picture: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={picture}", "--window-size=1000,1000", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return time.perf_counter() - start


def scale(chromium: str) -> int:
    print("| page | size | rendered in | Chromium opens and draws it in (median of 3) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        small = simulated.rollout_watch(24, 5.0, interval=0.25, every=6.0)
        for name, watch in (
            ("24 sessions, 5 s (the size of the example above)", small),
            (
                "1,000 sessions, 1 h, one request a second, a rollout every 10 min",
                simulated.rollout_watch(1_000, 3_600.0),
            ),
            (
                "1,000 sessions, 1 h, every list the watch keeps at its cap",
                simulated.worst_case_watch(1_000, 3_600.0),
            ),
        ):
            start = time.perf_counter()
            page = Path(folder) / "watch.html"
            write_report(watch, page)
            rendered = time.perf_counter() - start
            opened = statistics.median(
                opened_in(chromium, page, Path(folder) / "watch.png") for _ in range(3)
            )
            size = page.stat().st_size / 1_000_000
            print(f"| {name} | {size:.2f} MB | {rendered:.2f} s | {opened:.2f} s |", flush=True)
    return 0


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("watch_report: chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    if sys.argv[1:] == ["--scale"]:
        return scale(chromium)
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "watch.html"
        with what_is_my_pod(PODS) as ports, balancer("haproxy", ports, "stickounet") as lb:
            taken_out = threading.Timer(2.0, lambda: lb.set_active(1, False))
            taken_out.start()
            code = check_affinity(
                [f"http://127.0.0.1:{lb.port}/", "--watch", "5", "--sessions", "24",
                 "--interval", "0.25", "--report", str(page)]
            )  # fmt: skip
            taken_out.join()
        picture = PROJECT_DIR / "docs" / "watch-report.png"
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--screenshot={picture}", "--window-size=1000,520", page.as_uri()],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    print(f"watch_report: the watch exited {code}; wrote {picture.relative_to(PROJECT_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
