"""Rules across sections about secrets and namespaces: credentials never in plain text, sections
that hold no secret, and keys under a near miss of the project's namespace."""

from __future__ import annotations

import difflib
import re

from configuration.base import PROJECT
from configuration.cluster import ClusterConfig
from configuration.errors import problem
from configuration.rules import Given, key


def kubeconfig_is_secret(given: Given) -> list[str]:
    if given.sections.get("cluster") is None or "kubeconfig" not in given.set_in("cluster"):
        return []
    if f"{PROJECT}:cluster" in given.secret_keys:
        return []
    kubeconfig = key("cluster", "kubeconfig")
    return [
        problem(
            kubeconfig,
            "stored in plain text; it holds credentials",
            f'pulumi config set --secret --path {kubeconfig} "$(cat kubeconfig)"',
        )
    ]


# Sections whose every value lands in plain text in Kubernetes objects, Helm values or outputs.
NEVER_SECRET = ("network", "nodePool", "ingress", "app", "affinity", "tls", "dns")


def secret_sections(given: Given) -> list[str]:
    problems = []
    for section in NEVER_SECRET:
        if f"{PROJECT}:{section}" in given.secret_keys:
            full_key = f"{PROJECT}:{section}"
            problems.append(
                problem(
                    full_key,
                    "holds a value set with --secret, but none of its settings is a secret: each "
                    "is written in plain text into Kubernetes objects, Helm values or outputs",
                    f"pulumi config set --path {full_key}.<field> <value>, without --secret",
                )
            )
    cluster: ClusterConfig | None = given.sections.get("cluster")
    if (
        cluster is not None
        and cluster.mode == "stack"
        and f"{PROJECT}:cluster" in given.secret_keys
    ):
        stack = key("cluster", "stack")
        problems.append(
            problem(
                f"{PROJECT}:cluster",
                "holds a value set with --secret, but in cluster.mode stack it holds only mode "
                "and stack, which name a stack and are not secrets",
                f"pulumi config set --path {stack} <org>/<project>/<stack>, without --secret",
            )
        )
    return problems


def _squeezed(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def near_miss_namespaces(given: Given) -> list[str]:
    """`sticky_sessions:cluster` is not this project's key: its settings would be ignored."""
    problems = []
    for full_key in sorted(given.foreign):
        namespace, _, rest = full_key.partition(":")
        close = difflib.SequenceMatcher(None, _squeezed(namespace), _squeezed(PROJECT)).ratio()
        if namespace != PROJECT and close >= 0.85:
            problems.append(
                problem(
                    full_key,
                    f"the namespace {namespace!r} is not this project's, so these settings would "
                    f"be ignored; the project's keys are {PROJECT}:<key>",
                    f"rename it to {PROJECT}:{rest} in the stack file",
                )
            )
    return problems


# The OVHcloud provider settings that are credentials, and the variable each can come from.
OVH_CREDENTIALS = {
    "applicationSecret": "OVH_APPLICATION_SECRET",
    "consumerKey": "OVH_CONSUMER_KEY",
    "clientSecret": "OVH_CLIENT_SECRET",
    "accessToken": "OVH_ACCESS_TOKEN",
}


def credentials_are_secret(given: Given) -> list[str]:
    problems = []
    for credential, variable in OVH_CREDENTIALS.items():
        full_key = f"ovh:{credential}"
        if given.foreign.get(full_key) is False:
            problems.append(
                problem(
                    full_key,
                    "stored in plain text in the stack file; it is an OVHcloud credential",
                    f"pulumi config set --secret {full_key} <value> (or export {variable})",
                )
            )
    return problems
