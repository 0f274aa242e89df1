"""Stack configuration exactly as the Pulumi CLI hands it to the program, offline.

What the CLI does, read from its source (pulumi/pulumi `sdk/go/common/resource/config`):

- Stack files are YAML 1.2 (`yes`, `on` stay strings); duplicate keys, tabs, invalid UTF-8 and
  malformed YAML are refused. A key without a `<namespace>:` gets the project's name
  (`workspace/loaders.go`); written both ways, it is refused (the CLI keeps one at random).
- Inside an object, a float with no fraction (`3.0`, `1e3`) reaches the program as an integer
  (Go's JSON writes it so), and a `!!binary` scalar as its decoded text (yaml.v3).
- A top-level scalar reaches the program as its text (`version: 1.30` stays "1.30" there); an
  object goes through JSON, so a number inside it is a number (`1.30` becomes 1.3) and a
  date-like value stays a string.
- `pulumi config set --path KEY VALUE` stores VALUE as a string, except `true`/`false` and
  integers without a leading zero (`adjustObjectValue`), and only below a top-level key; a map
  whose one key is `secure` holding a string is reserved for encrypted values.

Encrypted values (`{secure: v1:...}`) cannot be decrypted here: they become placeholders of the
right shape, and their key is marked secret as the CLI marks it.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from configuration.stack_files import StackFileError as StackFileError
from configuration.stack_files import read_config_file, read_yaml_file

PROJECT_DIR = Path(__file__).resolve().parent.parent

# A kubeconfig of the right shape whose server is a documentation address (RFC 5737) and whose
# "token" says what it is: it reaches no cluster and grants nothing.
PLACEHOLDER_KUBECONFIG = """apiVersion: v1
kind: Config
current-context: offline
contexts:
- name: offline
  context: {cluster: offline-cluster, user: offline}
clusters:
- name: offline-cluster
  cluster: {server: "https://203.0.113.20:6443"}
users:
- name: offline
  user: {token: offline-placeholder-not-a-credential}
"""
PLACEHOLDER_SERVICE_NAME = "0" * 32
PLACEHOLDER_SECRET = "offline-placeholder-secret"
# What stands in for a secret value, by the key that holds it: a value of the right shape.
_PLACEHOLDERS = {"kubeconfig": PLACEHOLDER_KUBECONFIG, "serviceName": PLACEHOLDER_SERVICE_NAME}


class StackNotFound(Exception):
    """The stack has no Pulumi.<stack>.yaml beside Pulumi.yaml."""


class BadOverride(Exception):
    """A --set override the CLI would refuse."""


@dataclass(frozen=True)
class CliConfig:
    """What the Pulumi CLI hands a program: every value a string, and the keys that are secret."""

    project: str
    stack: str
    values: dict[str, str]
    secret_keys: frozenset[str]
    # A digest of each secret key's value as the stack file holds it (its ciphertexts, public in
    # the file): a diff can say that a secret changed without ever holding the secret.
    secret_fingerprints: Mapping[str, str] = field(default_factory=dict)


def available_stacks(project_dir: Path = PROJECT_DIR) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


# --- `pulumi config set --path` ------------------------------------------------------------

_PATH_PART = re.compile(r'\.?([^.\[\]"]+)|\["([^"]*)"\]|\[([0-9]+)\]')


def _path_parts(key: str) -> tuple[str, list[str | int]]:
    """`ns:top.a["b.c"][0]` -> (`ns:top`, [`a`, `b.c`, 0]), as `pulumi config set --path`
    reads it (a number in brackets is an array index)."""
    namespace, sep, rest = key.partition(":")
    match = re.match(r"[^.\[]+", rest)
    if not sep or not namespace or match is None:
        raise BadOverride(
            f"{key!r}: expected <namespace>:<key>[.path], e.g. sticky-sessions:app.replicas"
        )
    top, position = f"{namespace}:{match.group(0)}", match.end()
    path: list[str | int] = []
    while position < len(rest):
        part = _PATH_PART.match(rest, position)
        if part is None or part.end() == position:
            raise BadOverride(f"{key!r}: cannot read the path after {rest[:position]!r}")
        if part.group(3) is not None:
            path.append(int(part.group(3)))
        else:
            path.append(part.group(1) if part.group(1) is not None else part.group(2))
        position = part.end()
    return top, path


def adjusted(value: str) -> str | bool | int:
    """A `--path` value as the CLI stores it (`adjustObjectValue`): booleans and integers
    (Go's strconv.Atoi: ASCII digits, an optional sign, 64 bits, no leading zero), else text."""
    if value in ("true", "false"):
        return value == "true"
    if len(value) > 1 and value.startswith("0"):
        return value
    if re.fullmatch(r"[+-]?[0-9]+", value, flags=re.ASCII) and -(2**63) <= int(value) < 2**63:
        return int(value)
    return value


def parse_override(text: str) -> tuple[str, str]:
    """`KEY=VALUE` of `--set`, VALUE kept as the text `pulumi config set --path` is given."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise BadOverride(f"{text!r}: expected KEY=VALUE, e.g. sticky-sessions:app.replicas=5")
    return key, raw


def set_path(values: dict[str, Any], key: str, value: Any) -> None:
    """`pulumi config set --path KEY VALUE` on the merged config. A text VALUE is adjusted as the
    CLI adjusts it; any other value (tests) stands for what a stack file would hold."""
    top, path = _path_parts(key)
    if not path:
        values[top] = copy.deepcopy(value)
        return
    root = copy.deepcopy(values.get(top))  # never the caller's (or Pulumi.yaml's) object
    if isinstance(root, str):  # the CLI overwrites a top-level text value with the object
        root = None
    holder: dict[str, Any] = {top: root}
    container: Any = holder
    parts: list[str | int] = [top, *path]
    for part, following in itertools.pairwise(parts):
        child = container[part] if _has(container, part) else None
        wanted = list if isinstance(following, int) else dict
        if child is None:
            child = wanted()
        elif not isinstance(child, wanted):
            kind = "an array" if wanted is list else "a map"
            raise BadOverride(f"{key}: {kind} was expected at {following!r}")
        _put(container, part, child, key)
        container = child
    leaf = adjusted(value) if isinstance(value, str) else copy.deepcopy(value)
    _put(container, parts[-1], leaf, key)
    if _is_secure(container):
        raise BadOverride(f'{key}: "secure" key in maps of length 1 are reserved')
    values[top] = holder[top]


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, list):
        return isinstance(part, int) and part < len(container)
    return part in container


def _put(container: Any, part: str | int, item: Any, key: str) -> None:
    """Set `container[part]`; an index one past the end appends, as the CLI does."""
    if isinstance(container, list):
        if not isinstance(part, int) or part > len(container):
            raise BadOverride(f"{key}: array index out of range")
        if part == len(container):
            container.append(item)
        else:
            container[part] = item
    else:
        container[part] = item


# --- secrets and the merged config ----------------------------------------------------------


def _is_secure(value: Any) -> bool:
    """An encrypted value as the CLI recognises one (`isSecureValue` in pulumi's
    sdk/go/common/resource/config/value.go): a map whose one key is `secure`, holding a string."""
    return isinstance(value, dict) and set(value) == {"secure"} and isinstance(value["secure"], str)


def _without_secrets(value: Any, key: str = "") -> tuple[Any, bool]:
    """Replace `{secure: ...}` ciphertexts with placeholders of the right shape for their key;
    say whether there were any."""
    if _is_secure(value):
        return _PLACEHOLDERS.get(key, PLACEHOLDER_SECRET), True
    if isinstance(value, dict):
        found = False
        cleaned = {}
        for item_key, item in value.items():
            cleaned[item_key], secret = _without_secrets(item, item_key)
            found = found or secret
        return cleaned, found
    if isinstance(value, list):
        items = [_without_secrets(item) for item in value]
        return [item for item, _ in items], any(secret for _, secret in items)
    return value, False


def _as_cli_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def cli_config(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    project_dir: Path = PROJECT_DIR,
) -> CliConfig:
    """Pulumi.yaml defaults, replaced key by key by Pulumi.<stack>.yaml, then the overrides."""
    _, project, _ = read_yaml_file(project_dir / "Pulumi.yaml")
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        known = ", ".join(available_stacks(project_dir)) or "none"
        raise StackNotFound(
            f"no stack {stack!r}: there is no {stack_file.name} (stacks here: {known})"
        )
    name = str(project["name"])
    merged: dict[str, Any] = {}
    for key, declaration in (project.get("config") or {}).items():
        full_key = key if ":" in key else f"{name}:{key}"
        if isinstance(declaration, dict) and "default" in declaration:
            merged[full_key] = declaration["default"]
        elif not isinstance(declaration, dict):
            merged[full_key] = declaration
    merged.update(read_config_file(stack_file, name))
    for key, value in (overrides or {}).items():
        set_path(merged, key, value)
    values, secret_keys, fingerprints = {}, set(), {}
    for key, value in merged.items():
        cleaned, secret = _without_secrets(value)
        values[key] = _as_cli_string(cleaned)
        if secret:
            secret_keys.add(key)
            as_stored = json.dumps(value, sort_keys=True, default=str).encode()
            fingerprints[key] = hashlib.sha256(as_stored).hexdigest()[:16]
    return CliConfig(name, stack, values, frozenset(secret_keys), fingerprints)
