"""Time the offline preview of a stack against importing the Pulumi SDK modules it needs.

    python -m benchmarks.preview [--runs 9] [--stack dev]

Runs both commands alternately (so that machine noise hits both alike), each in a fresh Python
process, and prints both medians and their ratio. The preview, Helm rendering of the charts
included, should stay small next to the SDK imports: the target ratio is at most 1.5. The time
spent in `helm template` for the stack's releases is measured and printed on its own.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from tools.preview.mocks import PROJECT_DIR

# The SDK modules the program uses (meta.v1 for every object's metadata). Both SDKs load
# submodules lazily on first attribute access, so the baseline names the classes: that is what
# makes Python really import the modules.
SDK_IMPORTS = (
    "import pulumi; "
    "from pulumi_kubernetes import Provider; "
    "from pulumi_kubernetes.core.v1 import Namespace, Service; "
    "from pulumi_kubernetes.meta.v1 import ObjectMetaArgs; "
    "from pulumi_kubernetes.apps.v1 import Deployment; "
    "from pulumi_kubernetes.policy.v1 import PodDisruptionBudget; "
    "from pulumi_kubernetes.networking.v1 import Ingress; "
    "from pulumi_kubernetes.helm.v3 import Release; "
    "from pulumi_kubernetes.apiextensions import CustomResource; "
    "from pulumi_ovh.cloudproject import Kube, KubeNodePool, NetworkPrivate, Gateway; "
    "from pulumi_ovh.domain import ZoneRecord"
)
TARGET_RATIO = 1.5


def _helm_seconds(stack: str) -> float:
    """`helm template` of every release the stack declares, as the preview runs it."""
    from tools.preview import helm
    from tools.preview.mocks import run_program
    from tools.preview.recorded import plain

    run = run_program(stack)
    minor = str(run.outputs.get("kubernetesVersion"))
    releases = [plain(r.inputs) for r in run.of_type("kubernetes:helm.sh/v3:Release")]
    start = time.perf_counter()
    for inputs in releases:
        helm.render(
            helm.vendored_chart(inputs["chart"], inputs["version"]),
            inputs["name"],
            inputs["namespace"],
            inputs["values"],
            minor,
        )
    return time.perf_counter() - start


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=PROJECT_DIR, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.preview")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--stack", default="dev")
    args = parser.parse_args()
    preview = [sys.executable, "-m", "tools.preview", "--stack", args.stack]
    imports = [sys.executable, "-c", SDK_IMPORTS]
    _seconds(preview)  # warm the file cache and __pycache__ once, unmeasured
    _seconds(imports)
    preview_times, import_times = [], []
    for _ in range(args.runs):
        preview_times.append(_seconds(preview))
        import_times.append(_seconds(imports))
    preview_median = statistics.median(preview_times)
    import_median = statistics.median(import_times)
    ratio = preview_median / import_median
    print(f"preview of stack {args.stack}: median {preview_median:.3f} s over {args.runs} runs")
    print(f"SDK imports alone:       median {import_median:.3f} s over {args.runs} runs")
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    print(f"ratio: {ratio:.2f} ({verdict} the target of {TARGET_RATIO})")
    helm_times = [_helm_seconds(args.stack) for _ in range(3)]
    print(f"of which helm template: median {statistics.median(helm_times):.3f} s (3 runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
