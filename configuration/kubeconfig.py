"""What the program reads from a kubeconfig, without ever quoting it (it holds credentials)."""

from __future__ import annotations

from typing import Any

import yaml


def _by_name(document: dict[str, Any], list_key: str, item_key: str) -> dict[str, dict[str, Any]]:
    """`contexts` or `clusters` by name; ValueError (naming only the part) on any other shape."""
    entries = document.get(list_key) or []
    if not isinstance(entries, list):
        raise ValueError(f"its {list_key} are not a list")
    named = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ValueError(f"an entry of its {list_key} has no name")
        body = entry.get(item_key) or {}
        if not isinstance(body, dict):
            raise ValueError(f"the {item_key} of an entry of its {list_key} is not a mapping")
        named[entry["name"]] = body
    return named


def kubeconfig_cluster(kubeconfig: str) -> tuple[str, str]:
    """(cluster name, API server URL) of a kubeconfig's current context. The ValueError it
    raises never quotes the kubeconfig: it holds credentials."""
    try:
        document = yaml.safe_load(kubeconfig)
    except yaml.YAMLError:
        raise ValueError("not YAML, so not a kubeconfig") from None
    if not isinstance(document, dict) or not document.get("current-context"):
        raise ValueError("not a kubeconfig with a current-context")
    current = document["current-context"]
    if not isinstance(current, str):
        raise ValueError("its current-context is not a name")
    context = _by_name(document, "contexts", "context").get(current)
    if context is None:
        raise ValueError("its current-context names no context of the kubeconfig")
    cluster_name = context.get("cluster")
    cluster = _by_name(document, "clusters", "cluster").get(str(cluster_name))
    server = (cluster or {}).get("server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        raise ValueError("its current context names no cluster with a server URL")
    return str(cluster_name), server
