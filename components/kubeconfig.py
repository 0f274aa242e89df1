"""What the program reads from a kubeconfig, without ever quoting it (it holds credentials)."""

from __future__ import annotations

import yaml


def kubeconfig_cluster(kubeconfig: str) -> tuple[str, str]:
    """(cluster name, API server URL) of a kubeconfig's current context. The ValueError it
    raises never quotes the kubeconfig: it holds credentials."""
    try:
        document = yaml.safe_load(kubeconfig)
    except yaml.YAMLError:
        raise ValueError("not YAML, so not a kubeconfig") from None
    if not isinstance(document, dict) or not document.get("current-context"):
        raise ValueError("not a kubeconfig with a current-context")
    contexts = {c.get("name"): c.get("context") or {} for c in document.get("contexts") or []}
    context = contexts.get(document["current-context"])
    if context is None:
        raise ValueError("its current-context names no context of the kubeconfig")
    clusters = {c.get("name"): c.get("cluster") or {} for c in document.get("clusters") or []}
    cluster = clusters.get(context.get("cluster"))
    if not cluster or not cluster.get("server"):
        raise ValueError("its current context names no cluster with a server URL")
    return str(context["cluster"]), str(cluster["server"])
