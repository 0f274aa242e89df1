"""Time the affinity check against real load balancers whose pods answer 20 ms late.

    python -m benchmarks.check_affinity [--runs 3] [--requests 1000] [--clients 50]

Three what-is-my-pod look-alikes that wait 20 ms before answering (a load balancer "20 ms away")
behind each installed load balancer (HAProxy, nginx) on 127.0.0.1; the check runs in its own
process, as a user would run it, and the median wall time is printed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

from tools.local_servers.balancers import LOAD_BALANCERS
from tools.local_servers.pods import what_is_my_pod
from tools.preview.mocks import PROJECT_DIR

LATENCY = 0.020


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.check_affinity")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    pods = ["pod-a", "pod-b", "pod-c"]
    with what_is_my_pod(pods, delay=LATENCY) as backends:
        for name, balancer in LOAD_BALANCERS.items():
            if shutil.which(name) is None:
                print(f"{name}: not installed, skipped")
                continue
            with balancer(backends, "stickounet") as port:
                command = [
                    sys.executable,
                    "-m",
                    "tools.check_affinity",
                    f"http://127.0.0.1:{port}/",
                    "--requests",
                    str(args.requests),
                    "--clients",
                    str(args.clients),
                    "--concurrency",
                    str(args.concurrency),
                    "--json",
                ]
                times = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    subprocess.run(command, cwd=PROJECT_DIR, check=True, stdout=subprocess.DEVNULL)
                    times.append(time.perf_counter() - start)
            print(
                f"{name}: {args.requests} sticky requests + {args.clients} fresh clients, "
                f"concurrency {args.concurrency}, pods {LATENCY * 1000:.0f} ms away: "
                f"median {statistics.median(times):.2f} s over {args.runs} runs"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
