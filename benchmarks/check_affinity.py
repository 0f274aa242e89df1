"""Time the affinity check against real load balancers whose pods answer 20 ms late.

    python -m benchmarks.check_affinity [--runs 3] [--requests 1000] [--concurrency 10]

Three what-is-my-pod look-alikes that wait 20 ms before answering (a load balancer "20 ms away")
behind each installed load balancer (HAProxy, nginx) on 127.0.0.1; the check runs in its own
process, as a user would run it, with 50 and then 1,000 fresh clients beside the sticky requests.
It prints the median wall time, the check's verdict, and the CPU time and peak memory of its
process.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time

from tools.local_servers.balancers import LOAD_BALANCERS
from tools.local_servers.pods import what_is_my_pod
from tools.preview.mocks import PROJECT_DIR

LATENCY = 0.020
CLIENTS = (50, 1_000)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.check_affinity")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    print(
        "| load balancer | sticky requests + fresh clients | median wall time | verdict "
        "| CPU | peak memory |"
    )
    print("|---|---|---|---|---|---|")
    with what_is_my_pod(["pod-a", "pod-b", "pod-c"], delay=LATENCY) as backends:
        for name, balancer in LOAD_BALANCERS.items():
            if shutil.which(name) is None:
                print(f"{name}: not installed, skipped")
                continue
            with balancer(backends, "stickounet") as port:
                for clients in CLIENTS:
                    command = [
                        sys.executable, "-m", "tools.check_affinity", f"http://127.0.0.1:{port}/",
                        "--requests", str(args.requests), "--clients", str(clients),
                        "--concurrency", str(args.concurrency), "--json",
                    ]  # fmt: skip
                    times, cpu, peak, verdict = [], [], 0.0, ""
                    for _ in range(args.runs):
                        before = resource.getrusage(resource.RUSAGE_CHILDREN)
                        start = time.perf_counter()
                        done = subprocess.run(
                            command, cwd=PROJECT_DIR, capture_output=True, text=True, check=False
                        )
                        times.append(time.perf_counter() - start)
                        after = resource.getrusage(resource.RUSAGE_CHILDREN)
                        cpu.append(
                            after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                        )
                        peak = after.ru_maxrss / 1024  # the largest child so far (KiB on Linux)
                        report = json.loads(done.stdout)
                        pods = len(report["spread"]["pods"])
                        verdict = f"exit {done.returncode}, spread over {pods} pods"
                    print(
                        f"| {name} | {args.requests} + {clients}, concurrency "
                        f"{args.concurrency} | {statistics.median(times):.2f} s | {verdict} "
                        f"| {statistics.median(cpu):.1f} s | {peak:.0f} MB |"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
