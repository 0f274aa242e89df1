"""Reading a project or stack file as the Pulumi CLI does: YAML 1.2 with yaml.v3's refusals
(duplicate keys, tabs, invalid UTF-8, alias bombs, bad `!!binary`), each with its file and line,
and the `config:` entries as the program receives them (see cli.py's docstring)."""

from __future__ import annotations

import base64
import binascii
import datetime
import math
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode

# yaml.v3 refuses a document whose aliases expand past a budget ("excessive aliasing").
MAX_NODES = 100_000


class StackFileError(Exception):
    """A project or stack file the CLI would refuse: `<file>:<line>: <why>`."""


# --- reading YAML as the CLI does -----------------------------------------------------------


def _yaml() -> YAML:
    loader = YAML(typ="safe", pure=True)
    loader.version = (1, 2)
    # yaml.v3 gives a date-like value decoded into interface{} as its text, not a date.
    loader.constructor.add_constructor(
        "tag:yaml.org,2002:timestamp", lambda constructor, node: node.value
    )
    loader.constructor.add_constructor("tag:yaml.org,2002:binary", _strict_binary)
    return loader


def _strict_binary(constructor: Any, node: Any) -> bytes:
    """yaml.v3 refuses `!!binary` data that is not base64 ("!!binary value contains invalid
    base64 data"); Python's decoder would skip what it does not know."""
    text = "".join(str(node.value).split())
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConstructorError(
            None, None, "!!binary value contains invalid base64 data", node.start_mark
        ) from None


def _line_of(text: str, key: str) -> int:
    match = re.search(rf"^[ \t]*[\"']?{re.escape(key)}[\"']?[ \t]*:", text, re.MULTILINE)
    return text[: match.start()].count("\n") + 1 if match else 1


def _count_nodes(value: Any, budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        return
    children = value.values() if isinstance(value, dict) else value
    if isinstance(value, (dict, list)):
        for child in children:
            _count_nodes(child, budget)
            if budget[0] < 0:
                return


def _json_ready(value: Any, where: str) -> Any:
    """A nested value as Go's JSON marshaller writes it: string keys, no NaN or infinity."""
    if isinstance(value, dict):
        return {_key_text(k): _json_ready(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(item, where) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise StackFileError(f"{where}: {value} cannot be a config value (JSON has no {value})")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)  # Go's JSON writes the float64 3.0 (or 1e3) as 3 (1000)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return _binary_text(value)
    return value


def _binary_text(value: bytes) -> str:
    """A `!!binary` scalar as yaml.v3 hands it over: its decoded bytes as a string (JSON then
    replaces what is not UTF-8)."""
    return value.decode("utf-8", errors="replace")


def _key_text(key: Any) -> str:
    if isinstance(key, bytes):
        return _binary_text(key)
    if isinstance(key, bool):
        return "true" if key else "false"
    return "<nil>" if key is None else str(key)


def read_yaml_file(path: Path) -> tuple[str, dict[str, Any], Any]:
    """A project or stack file's text, its top-level mapping, and its node tree, as the CLI
    reads it (YAML 1.2). Raises StackFileError with the file and line, as the CLI would."""
    name = path.name
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise StackFileError(f"{name}:{line}: invalid UTF-8 (byte {error.start})") from None
    loader = _yaml()
    try:
        document = loader.load(text)
        node = loader.compose(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = (error.problem or error.context or "malformed YAML").strip()
        raise StackFileError(f"{name}:{line}: invalid YAML: {problem}") from None
    if document is None:
        return text, {}, node
    if not isinstance(document, dict):
        raise StackFileError(f"{name}:1: the top level must be a mapping of settings")
    budget = [MAX_NODES]
    _count_nodes(document, budget)
    if budget[0] < 0:
        raise StackFileError(f"{name}:1: document contains excessive aliasing")
    return text, document, node


def read_config_file(path: Path, project: str | None = None) -> dict[str, Any]:
    """A stack file's `config:` entries as the program receives them: the raw text of a
    top-level scalar, or the object (JSON-ready) of a collection. A key without a namespace
    gets the project's name (pulumi `workspace/loaders.go`, stackConfigNamespacedWithProject)."""
    name = path.name
    text, document, node = read_yaml_file(path)
    config = document.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        line = _line_of(text, "config")
        raise StackFileError(f"{name}:{line}: `config:` must be a mapping of <namespace>:<key>")
    raw_scalars: dict[str, str] = {}
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == "config" and isinstance(value_node, MappingNode):
                for entry_key, entry_value in value_node.value:
                    tag = str(entry_value.tag or "")
                    if isinstance(entry_value, ScalarNode) and tag.endswith(
                        ("str", "int", "float", "bool", "timestamp")
                    ):
                        raw_scalars[str(entry_key.value)] = entry_value.value
    entries: dict[str, Any] = {}
    written_as: dict[str, str] = {}
    for key, value in config.items():
        key_text = _key_text(key)
        if project is not None and ":" not in key_text:
            full = f"{project}:{key_text}"
            if full in config or written_as.get(full):
                raise StackFileError(
                    f"{name}:{_line_of(text, key_text)}: {key_text!r} and {full!r} are the same "
                    f"key (the CLI prefixes a key without a namespace with the project's name) "
                    "and it would keep one of them at random: keep one"
                )
            written_as[full] = key_text
            raw = raw_scalars.pop(key_text, None)
            if raw is not None:
                raw_scalars[full] = raw
            key_text = full
        namespace, colon, rest = key_text.partition(":")
        if not colon or not namespace or not rest:
            raise StackFileError(
                f"{name}:{_line_of(text, key_text)}: could not parse {key_text!r} as a "
                "configuration key (configuration keys should be of the form "
                "`<namespace>:<name>`, e.g. sticky-sessions:app)"
            )
        where = f"{name}:{_line_of(text, key_text)}: {key_text}"
        if isinstance(value, (dict, list)):
            entries[key_text] = _json_ready(value, where)
        elif value is None:
            entries[key_text] = ""
        elif isinstance(value, bytes):
            entries[key_text] = _binary_text(value)
        else:
            entries[key_text] = raw_scalars.get(key_text, _key_text(value))
    return entries
