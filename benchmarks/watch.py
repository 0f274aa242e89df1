"""The watch at scale: `python -m benchmarks.watch [--seconds 10] [--intervals 1 0.5]
[--sessions 20 200 1000]`.

For each number of sessions and each interval, a watch of `--seconds` runs as a user runs it (its
own process, `python -m tools.check_affinity URL --watch S --sessions N --interval I --json`)
against HAProxy with cookie affinity in front of eight what-is-my-pod look-alikes that never
fail, served by a second HAProxy (`static_pods`: the Python look-alikes took most of a core at
1,000 requests a second and slowed the watch beside them on a 2-core machine). It prints
requests due and sent (and whether the watch said it fell behind), the failures it reported (any
is false: nothing fails), moves, the watch's wall time against its duration, the p50 / p99
latency of the slowest pod as the watch measured it, the CPU seconds of the watch's process, and
its resident memory read every second from /proc: after a tenth of the watch, at its end, and
the highest seen (flat memory shows as the first two close together).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.local_servers.balancers import balancer, static_pods
from tools.preview.mocks import PROJECT_DIR

PODS = [f"what-is-my-pod-{index}" for index in range(8)]


def resident_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run(port: int, sessions: int, seconds: float, interval: float) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    memory: list[tuple[float, float]] = []  # (seconds since start, MB)
    # The report goes to a file: a pipe nobody reads while the memory is sampled would fill up
    # and stop the watch at its end.
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.check_affinity", f"http://127.0.0.1:{port}/",
             "--watch", str(seconds), "--sessions", str(sessions), "--interval", str(interval),
             "--json"],
            cwd=PROJECT_DIR, stdout=out, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        while process.poll() is None:
            rss = resident_mb(process.pid)
            if rss is not None:
                memory.append((time.perf_counter() - start, rss))
            time.sleep(min(1.0, seconds / 20))
        wall = time.perf_counter() - start
        out.seek(0)
        report = json.load(out)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    latency = report["latency"].values()
    tenth = next((mb for at, mb in memory if at >= 1.0 + seconds / 10), memory[-1][1])
    return {
        "asked": report["asked"],
        "sent": report["sent"],
        "behind": report["behind"],
        "failed": sum(s["failures"] for s in report["per_session"]),
        "moved": report["moved"],
        "wall": wall,
        "p50": max(s["p50_ms"] for s in latency),
        "p99": max(s["p99_ms"] for s in latency),
        "cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "rss_tenth": tenth,
        "rss_end": memory[-1][1],
        "rss_peak": max(mb for _, mb in memory),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.watch")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--intervals", type=float, nargs="+", default=[1.0, 0.5])
    parser.add_argument("--sessions", type=int, nargs="+", default=[20, 200, 1_000])
    args = parser.parse_args(argv)
    print(
        "| sessions | interval | requests due / sent | failures reported | moves | wall time "
        "| slowest pod p50 / p99 | CPU | memory at 1/10, end, peak |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with static_pods(PODS) as ports, balancer("haproxy", ports, "stickounet") as lb:
        for interval in args.intervals:
            for sessions in args.sessions:
                row = run(lb.port, sessions, args.seconds, interval)
                said = ", the watch says it fell behind" if row["behind"] else ""
                print(
                    f"| {sessions} | {interval:g} s | {row['asked']:.0f} / {row['sent']} "
                    f"({100 * row['sent'] / row['asked']:.1f} %{said}) "
                    f"| {row['failed']} "
                    f"| {row['moved']} | {row['wall']:.1f} s for {args.seconds:g} s "
                    f"| {row['p50']:g} / {row['p99']:g} ms | {row['cpu']:.1f} s "
                    f"| {row['rss_tenth']:.0f}, {row['rss_end']:.0f}, {row['rss_peak']:.0f} MB |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
