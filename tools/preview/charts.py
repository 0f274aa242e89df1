"""What the Helm releases of a previewed stack install, rendered with Helm (helm.py): for the
preview's tree, its `--out` files and its `--json` document."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import yaml

from configuration.cluster import DEFAULT_KUBERNETES_VERSION
from tools.preview import helm
from tools.preview.recorded import ProgramRun, Registration, plain

RELEASE = "kubernetes:helm.sh/v3:Release"
# The order `kubectl apply` needs: definitions and namespaces before what uses them.
APPLY_ORDER = (
    "CustomResourceDefinition",
    "Namespace",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Secret",
    "Service",
    "Deployment",
    "DaemonSet",
    "Job",
)
WORKLOADS = ("Deployment", "DaemonSet", "StatefulSet", "Job")


@dataclass
class Rendered:
    """Objects per release (by URN), and why a release was not rendered."""

    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(objects) for objects in self.objects.values())


def render_run(run: ProgramRun) -> Rendered:
    """Render every release the stack declares, for the Kubernetes version it deploys."""
    rendered = Rendered()
    releases = run.of_type(RELEASE)
    if not releases:
        return rendered
    minor = str(run.outputs.get("kubernetesVersion") or DEFAULT_KUBERNETES_VERSION)
    try:
        helm.find_helm()
    except helm.HelmUnavailable as error:
        rendered.notes.append(f"the charts are not rendered: {error}")
        return rendered

    def render(release: Registration) -> list[dict[str, Any]] | str:
        inputs = plain(release.inputs)
        try:
            return helm.render_release(inputs, minor)
        except helm.ChartNotVendored as error:
            return f"release {inputs.get('name')} is not rendered: {error}"

    # One `helm template` process per release, side by side.
    with ThreadPoolExecutor(max_workers=len(releases)) as pool:
        for release, result in zip(releases, pool.map(render, releases), strict=True):
            if isinstance(result, str):
                rendered.notes.append(result)
            else:
                rendered.objects[release.urn] = result
    return rendered


def _where(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    namespace = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
    return f"{namespace}{metadata.get('name')}"


def _details(obj: dict[str, Any]) -> list[str]:
    kind, spec = obj["kind"], obj.get("spec") or {}
    if kind in WORKLOADS:
        template = (spec.get("jobTemplate") or {}).get("spec", spec).get("template") or {}
        containers = (template.get("spec") or {}).get("containers") or []
        lines = [f"replicas: {spec['replicas']}"] if "replicas" in spec else []
        return lines + [f"image: {c.get('image')}" for c in containers]
    if kind == "Service":
        lines = [f"type: {spec.get('type', 'ClusterIP')}"]
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        return lines + [f"annotation {k}: {v}" for k, v in annotations.items()]
    return []


def tree_lines(objects: list[dict[str, Any]]) -> list[str]:
    """One line per object rendered by Helm, with what a reviewer reads; CRDs by group."""
    lines = []
    crd_groups = Counter(
        (o.get("spec") or {}).get("group", "?")
        for o in objects
        if o["kind"] == "CustomResourceDefinition"
    )
    for group, count in sorted(crd_groups.items()):
        lines.append(f"~ {count} CustomResourceDefinition(s) of {group} (rendered by Helm)")
    for obj in objects:
        if obj["kind"] == "CustomResourceDefinition":
            continue
        lines.append(f"~ {obj['kind']} {_where(obj)} (rendered by Helm)")
        lines += [f"    {detail}" for detail in _details(obj)]
    return lines


def _rank(kind: str) -> int:
    return APPLY_ORDER.index(kind) if kind in APPLY_ORDER else len(APPLY_ORDER)


def output_files(run: ProgramRun, rendered: Rendered) -> dict[str, str]:
    """`rendered/<release>/NN-kind-namespace-name.yaml`, in apply order."""
    names = {r.urn: str(plain(r.inputs).get("name")) for r in run.of_type(RELEASE)}
    files = {}
    for urn, objects in rendered.objects.items():
        ordered = sorted(enumerate(objects), key=lambda pair: (_rank(pair[1]["kind"]), pair[0]))
        for position, (_, obj) in enumerate(ordered, start=1):
            metadata = obj.get("metadata") or {}
            parts = [obj["kind"].lower(), metadata.get("namespace"), metadata.get("name")]
            base = f"{position:03d}-" + "-".join(str(p) for p in parts if p)
            files[f"helm-{names[urn]}-{base}.yaml"] = yaml.safe_dump(obj, sort_keys=False)
    return files


def as_json(run: ProgramRun, rendered: Rendered) -> dict[str, Any]:
    names = {r.urn: str(plain(r.inputs).get("name")) for r in run.of_type(RELEASE)}
    return {names[urn]: objects for urn, objects in rendered.objects.items()}
