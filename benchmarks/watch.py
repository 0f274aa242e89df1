"""The watch at scale: `python -m benchmarks.watch [--seconds 10] [--interval 1]`.

For 20, 200 and 1,000 sessions, a watch of `--seconds` runs as a user runs it (its own process,
`python -m tools.check_affinity URL --watch S --sessions N --interval I --json`) against HAProxy
with cookie affinity in front of eight what-is-my-pod look-alikes that never fail. It prints
requests asked and sent, the failures it reported (any is false: nothing fails), moves, the
watch's wall time against its duration, the highest p50 and p95 latency of a pod as the watch
measured it, and the CPU seconds and peak memory of the watch's process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence

from tools.local_servers.balancers import balancer
from tools.local_servers.pods import what_is_my_pod
from tools.preview.mocks import PROJECT_DIR

SESSIONS = (20, 200, 1_000)
PODS = [f"what-is-my-pod-{index}" for index in range(8)]


def run(port: int, sessions: int, seconds: float, interval: float) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "tools.check_affinity", f"http://127.0.0.1:{port}/",
         "--watch", str(seconds), "--sessions", str(sessions), "--interval", str(interval),
         "--json"],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(result.stdout)
    latency = report["latency"].values()
    return {
        "asked": sessions * seconds / interval,
        "sent": report["requests"],
        "failed": sum(s["failures"] for s in report["per_session"]),
        "moved": report["moved"],
        "wall": wall,
        "p50": max(s["p50_ms"] for s in latency),
        "p95": max(s["p95_ms"] for s in latency),
        "cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "rss_mb": after.ru_maxrss / 1024,  # the largest child so far (KiB on Linux)
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.watch")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    print(
        "| sessions | requests asked / sent | failures reported | moves | wall time "
        "| pod p50 / p95 | CPU | peak memory |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with what_is_my_pod(PODS) as ports, balancer("haproxy", ports, "stickounet") as lb:
        for sessions in SESSIONS:
            row = run(lb.port, sessions, args.seconds, args.interval)
            print(
                f"| {sessions} | {row['asked']:.0f} / {row['sent']} "
                f"({100 * row['sent'] / row['asked']:.1f} %) | {row['failed']} | {row['moved']} "
                f"| {row['wall']:.1f} s for {args.seconds:g} s "
                f"| {row['p50']:g} / {row['p95']:g} ms | {row['cpu']:.1f} s "
                f"| {row['rss_mb']:.0f} MB |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
