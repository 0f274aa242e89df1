"""The difference between two offline previews: what a change to the code or the config does, for
a reviewer, with no cloud access (`python -m tools.preview --diff BASE`).

Both sides are the preview's `--json` document. Resources are matched by URN, objects rendered
from the Helm charts by release, kind, namespace and name, config keys and outputs by name; each
changed one lists its changed fields (`spec.replicas: 2 -> 3`). Secrets never show: the documents
hold them masked, a Secret's data is masked here too, and a secret config key is said to have
changed when the fingerprint of its ciphertext (public in the stack file) changed.

What the engine would replace rather than update, read from the providers' sources:
- terraform-provider-ovh (a1ae5bc) `ForceNew` fields: ovh/resource_cloud_project_kube.go lines
  42, 469, 474, 513; resource_cloud_project_kube_nodepool.go 40, 47, 100, 106, 119, 138, 276;
  the network, subnet, gateway, IP restrictions and DNS record resources alike;
- pulumi-kubernetes (9497796) provider/pkg/provider/diff.go lines 45-207 (`forceNew`: name and
  namespace of every object, a workload's selector, a Service's clusterIP, a Secret's type, a
  binding's roleRef) and helm_release.go line 907 (a release's name and namespace);
- the program's own `replaceOnChanges` (the cluster's nodesSubnetId).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from tools.preview.recorded import SECRET_MASK

EXIT_SAME, EXIT_CHANGED, EXIT_CANNOT = 0, 1, 2
RELEASE = "kubernetes:helm.sh/v3:Release"
ABSENT = "(absent)"

# Input paths whose change replaces the resource (see the module's docstring for the sources).
REPLACED_BY: dict[str, tuple[str, ...]] = {
    "ovh:CloudProject/kube:Kube": ("serviceName", "privateNetworkId", "kubeProxyMode", "region"),
    "ovh:CloudProject/kubeNodePool:KubeNodePool": (
        "serviceName", "kubeId", "antiAffinity", "flavorName", "name", "monthlyBilled",
        "availabilityZones",
    ),
    "ovh:CloudProject/kubeIpRestrictions:KubeIpRestrictions": ("serviceName", "kubeId"),
    "ovh:CloudProject/networkPrivate:NetworkPrivate": ("serviceName", "vlanId"),
    "ovh:CloudProject/networkPrivateSubnet:NetworkPrivateSubnet": (
        "serviceName", "networkId", "dhcp", "start", "end", "network", "region", "noGateway",
    ),
    "ovh:CloudProject/gateway:Gateway": ("serviceName", "region", "networkId", "subnetId"),
    "ovh:Domain/zoneRecord:ZoneRecord": ("zone", "fieldtype"),
    RELEASE: ("name", "namespace"),
}  # fmt: skip
KUBERNETES_REPLACED_BY: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "StatefulSet": (
        "spec.selector", "spec.podManagementPolicy", "spec.revisionHistoryLimit",
        "spec.serviceName", "spec.volumeClaimTemplates",
    ),
    "Job": ("spec.selector", "spec.completions", "spec.parallelism", "spec.template"),
    "Service": ("spec.clusterIP",),
    "Secret": ("type",),
    "RoleBinding": ("roleRef",),
    "ClusterRoleBinding": ("roleRef",),
}  # fmt: skip


class CannotCompare(Exception):
    """Exit 2: a side is missing, is not a preview document, or its preview failed."""


@dataclass
class FieldChange:
    path: str
    old: Any
    new: Any


@dataclass
class Change:
    section: str  # config, resources, objects, outputs
    label: str
    action: str  # add, remove, update, replace
    fields: list[FieldChange] = field(default_factory=list)
    replaced_by: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Diff:
    base: str
    head: str
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CHANGED if self.changes else EXIT_SAME

    def count(self, section: str, action: str | None = None) -> int:
        return sum(
            1
            for change in self.changes
            if change.section == section and (action is None or change.action == action)
        )


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves by path: `spec.template.spec.containers[0].image`; an empty map or list is a
    leaf of its own."""
    if isinstance(value, dict) and value:
        leaves: dict[str, Any] = {}
        for key, item in value.items():
            leaves |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return leaves
    if isinstance(value, list) and value:
        leaves = {}
        for index, item in enumerate(value):
            leaves |= flatten(item, f"{prefix}[{index}]")
        return leaves
    return {prefix: value}


def field_changes(old: Any, new: Any) -> list[FieldChange]:
    before, after = flatten(old), flatten(new)
    changed = [
        FieldChange(path, before.get(path, ABSENT), after.get(path, ABSENT))
        for path in sorted(set(before) | set(after), key=_path_order)
        if before.get(path, ABSENT) != after.get(path, ABSENT)
    ]
    # An empty map that gains keys (or the reverse) shows as its keys, not as the map too.
    paths = [change.path for change in changed]
    return [
        change
        for change in changed
        if not (
            ABSENT in (change.old, change.new)
            and (change.old in ({}, []) or change.new in ({}, []))
            and any(_under(other, [change.path]) and other != change.path for other in paths)
        )
    ]


def _path_order(path: str) -> list[Any]:
    """Paths in document order: `[10]` after `[9]`."""
    parts: list[Any] = []
    for part in path.replace("[", ".[").split("."):
        parts.append((0, int(part[1:-1]), "") if part.startswith("[") else (1, 0, part))
    return parts


def _under(path: str, prefixes: tuple[str, ...] | list[str]) -> str | None:
    for prefix in prefixes:
        if path == prefix or path.startswith((f"{prefix}.", f"{prefix}[")):
            return prefix
    return None


def _replacing(resource: dict[str, Any], changes: list[FieldChange]) -> list[str]:
    kind = resource["type"]
    prefixes = list(REPLACED_BY.get(kind, ()))
    prefixes += resource.get("replaceOnChanges") or []
    if kind.startswith("kubernetes:") and kind != RELEASE:
        prefixes += ["metadata.name", "metadata.namespace"]
        prefixes += KUBERNETES_REPLACED_BY.get(kind.rsplit(":", 1)[-1], ())
    return _under_any(changes, tuple(prefixes))


def _masked_secret(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret with its data masked, a digest standing for each value so that a change shows."""
    if obj.get("kind") != "Secret":
        return obj
    masked = dict(obj)
    for key in ("data", "stringData"):
        if isinstance(obj.get(key), dict):
            masked[key] = {
                name: f"{SECRET_MASK} {hashlib.sha256(str(value).encode()).hexdigest()[:8]}"
                for name, value in obj[key].items()
            }
    return masked


def _config_leaves(document: dict[str, Any]) -> dict[str, Any]:
    leaves: dict[str, Any] = {}
    for key, text in (document.get("config") or {}).items():
        try:
            value = json.loads(text) if isinstance(text, str) else text
        except json.JSONDecodeError:
            value = text
        if text == SECRET_MASK or not isinstance(value, dict | list):
            leaves[key] = text
        else:
            leaves |= flatten(value, key)
    return leaves


def _config_changes(base: dict[str, Any], head: dict[str, Any]) -> list[Change]:
    before, after = _config_leaves(base), _config_leaves(head)
    changes = []
    keys = set(before) | set(after)
    for key in sorted(keys, key=_path_order):
        old, new = before.get(key, ABSENT), after.get(key, ABSENT)
        empty = old in ("{}", "[]", {}, []) or new in ("{}", "[]", {}, [])
        if empty and any(other != key and _under(other, [key]) for other in keys):
            continue  # an empty section that gains keys (or loses them) shows as its keys
        if old == new == SECRET_MASK:
            fingerprints = [
                (document.get("secretFingerprints") or {}).get(key) for document in (base, head)
            ]
            if None in fingerprints or fingerprints[0] == fingerprints[1]:
                continue
            changes.append(
                Change("config", key, "update", notes=["secret: its encrypted value changed"])
            )
        elif old != new:
            action = "add" if old == ABSENT else "remove" if new == ABSENT else "update"
            changes.append(Change("config", key, action, [FieldChange(key, old, new)]))
    return changes


def _resource_changes(base: dict[str, Any], head: dict[str, Any]) -> list[Change]:
    before = {_unstacked(r["urn"]): r for r in base.get("resources") or []}
    after = {_unstacked(r["urn"]): r for r in head.get("resources") or []}
    renamed = _renamed(before, after)
    taken = set(renamed.values())
    changes = []
    for urn in [*before, *(urn for urn in after if urn not in before and urn not in taken)]:
        old, new = before.get(urn), after.get(renamed.get(urn, urn))
        label = f"{(new or old or {})['type']} {(new or old or {})['name']}"
        if old is None or new is None:
            changes.append(Change("resources", label, "add" if old is None else "remove"))
            continue
        fields = field_changes(
            _masked_secret(old.get("inputs") or {}), _masked_secret(new.get("inputs") or {})
        )
        if old.get("protect") != new.get("protect"):
            fields.append(FieldChange("(option) protect", old.get("protect"), new.get("protect")))
        if not fields:
            continue
        replaced_by = _replacing(new, fields)
        change = Change(
            "resources", label, "replace" if replaced_by else "update", fields, replaced_by
        )
        if replaced_by and old.get("protect"):
            change.notes.append("protected: `pulumi up` refuses to replace it until unprotected")
        if urn in renamed:
            change.notes.append(f"was {old['name']}: an alias keeps its state")
        changes.append(change)
    return changes


def _renamed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, str]:
    """Old URN -> new URN for what the engine would take over through an alias: a new URN
    that the base lacks is looked up by its aliases, in order, among the base's URNs that the
    head no longer declares (pulumi/pkg/resource/deploy/step_generator.go, generateSteps)."""
    renamed: dict[str, str] = {}
    for urn, resource in after.items():
        if urn in before:
            continue
        for alias in map(_unstacked, resource.get("aliases") or []):
            if alias in before and alias not in after and alias not in renamed:
                renamed[alias] = urn
                break
    return renamed


def _unstacked(urn: str) -> str:
    """A URN without its stack (`urn:pulumi:<stack>::<project>::...`): dev and prod compare."""
    parts = urn.split("::", 1)
    return parts[1] if len(parts) == 2 else urn


def _objects(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for release, objects in (document.get("rendered") or {}).items():
        for obj in objects:
            metadata = obj.get("metadata") or {}
            where = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
            found[f"{release}: {obj.get('kind')} {where}{metadata.get('name')}"] = _masked_secret(
                obj
            )
    return found


def _object_changes(base: dict[str, Any], head: dict[str, Any]) -> list[Change]:
    before, after = _objects(base), _objects(head)
    changes = []
    for label in [*before, *(label for label in after if label not in before)]:
        old, new = before.get(label), after.get(label)
        if old is None or new is None:
            changes.append(Change("objects", label, "add" if old is None else "remove"))
            continue
        fields = field_changes(old, new)
        if fields:
            immutable = _under_any(fields, KUBERNETES_REPLACED_BY.get(str(new.get("kind")), ()))
            change = Change("objects", label, "update", fields)
            if immutable:
                change.notes.append(
                    f"{', '.join(immutable)} cannot change in place: `helm upgrade` fails"
                )
            changes.append(change)
    return changes


def _under_any(fields: list[FieldChange], prefixes: tuple[str, ...]) -> list[str]:
    found = {_under(change.path, prefixes) for change in fields}
    return sorted(prefix for prefix in found if prefix is not None)


def _output_changes(base: dict[str, Any], head: dict[str, Any]) -> list[Change]:
    before, after = base.get("outputs") or {}, head.get("outputs") or {}
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, ABSENT), after.get(name, ABSENT)
        if old != new:
            action = "add" if old == ABSENT else "remove" if new == ABSENT else "update"
            changes.append(Change("outputs", name, action, field_changes(old, new)))
    return changes


def compare(base: dict[str, Any], head: dict[str, Any], base_label: str, head_label: str) -> Diff:
    for side, document in ((base_label, base), (head_label, head)):
        if not isinstance(document, dict) or not {"stack", "resources", "config"} <= set(document):
            raise CannotCompare(
                f"{side} is not a preview document (python -m tools.preview --json)"
            )
    diff = Diff(base_label, head_label)
    diff.changes = [
        *_config_changes(base, head),
        *_resource_changes(base, head),
        *_object_changes(base, head),
        *_output_changes(base, head),
    ]
    for side, document in ((base_label, base), (head_label, head)):
        if document.get("resources") and not document.get("rendered"):
            diff.notes.append(
                f"{side}: no chart was rendered, objects inside releases not compared"
            )
    return diff
