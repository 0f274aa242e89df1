"""The example of docs/sessions.md: `python -m benchmarks.watch_report` watches 24 sessions
behind HAProxy while one of three look-alike pods goes away, writes the HTML report with the
checker's own `--report`, and takes its picture with headless Chromium into
docs/watch-report.png."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from tools.check_affinity.command import main as check_affinity
from tools.local_servers.balancers import balancer
from tools.local_servers.pods import what_is_my_pod
from tools.preview.mocks import PROJECT_DIR

PODS = [f"what-is-my-pod-7d9f-{suffix}" for suffix in "abc"]


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("watch_report: chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
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
