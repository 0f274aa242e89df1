"""What one offline run of the program recorded: every resource it declared or read (with what
the engine would have been told: inputs, dependencies, options), its outputs and its logs; and
the objects as `kubectl apply` would take them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from configuration.cli import CliConfig

SECRET_MASK = "[secret]"


@dataclass
class Registration:
    """One resource the program declared (or read), with what the engine would have been told."""

    type: str
    name: str
    urn: str
    id: str
    parent: str
    custom: bool
    inputs: dict[str, Any]  # secret values replaced by SECRET_MASK
    dependencies: list[str]
    provider: str
    protect: bool
    # The request's deleteBeforeReplace, and deleteBeforeReplaceDefined: whether the program
    # set it at all (else the provider decides; the engine takes the program's value over it).
    delete_before_replace: bool = False
    delete_before_replace_defined: bool = False
    read: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    custom_timeouts: dict[str, str] = field(default_factory=dict)  # create/update/delete
    aliases: list[str] = field(default_factory=list)  # the URNs the state may still hold it at

    @property
    def provider_urn(self) -> str:
        """The URN of the provider instance (a provider reference is `<urn>::<id>`)."""
        return self.provider.rsplit("::", 1)[0]


@dataclass
class ProgramRun:
    config: CliConfig
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: frozenset[str] = frozenset()
    logs: list[tuple[str, str]] = field(default_factory=list)
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # token, arguments
    error: BaseException | None = None
    notes: list[str] = field(default_factory=list)  # what the offline run stood in for

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registration:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one {type_} {name or ''}, found {len(found)}")
        return found[0]

    def warnings(self) -> list[str]:
        return [message for level, message in self.logs if level == "WARNING"]


def masked(value: Any) -> Any:
    """A deserialized value with every secret (the engine's secret wrapper) replaced by a mask."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return SECRET_MASK
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def alias_urns(aliases: Any, urn: str) -> list[str]:
    """The URNs the engine derives from a registration's aliases: an URN as given, or a spec
    (name, type, parent) applied to the resource's own URN,
    `urn:pulumi:<stack>::<project>::<parent types$>type::<name>` (as the mocks spell URNs:
    they keep the stack's type in the chain, where the engine drops it)."""
    found = []
    for alias in aliases:
        if alias.WhichOneof("alias") == "spec":
            spec = alias.spec
            head, _, name = urn.rpartition("::")
            head, _, qualified = head.rpartition("::")
            parents, _, type_ = qualified.rpartition("$")
            if spec.parentUrn:
                parents = spec.parentUrn.rpartition("::")[0].rpartition("::")[2]
            elif spec.noParent:
                parents = ""
            type_ = spec.type or type_
            qualified = f"{parents}${type_}" if parents else type_
            found.append(f"{head}::{qualified}::{spec.name or name}")
        elif alias.urn:
            found.append(alias.urn)
    return found


def timeouts(timeouts: Any) -> dict[str, str]:
    if timeouts is None:
        return {}
    return {
        kind: getattr(timeouts, kind)
        for kind in ("create", "update", "delete")
        if getattr(timeouts, kind, "")
    }


def plain(value: Any) -> Any:
    """Engine values as YAML would hold them: protobuf sends every number as a float and keeps
    no key order, so integral floats become ints and keys are sorted (stable diffs)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: plain(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def kubernetes_objects(run: ProgramRun) -> list[Registration]:
    """The Kubernetes objects the program declares itself (not Helm releases, not reads)."""
    return [
        r
        for r in run.resources
        if r.type.startswith("kubernetes:") and not r.read and "apiVersion" in r.inputs
    ]


def manifest(registration: Registration) -> dict[str, Any]:
    """The Kubernetes manifest a declared object stands for, as `kubectl apply` would take it."""
    body = plain(registration.inputs)
    head = {key: body.pop(key) for key in ("apiVersion", "kind", "metadata") if key in body}
    return head | body
