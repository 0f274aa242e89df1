"""What every config section shares: the section model, value formats, the table's notes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

PROJECT = "sticky-sessions"
SERVICE_NAME_ENV = "OVH_CLOUD_PROJECT_SERVICE"


class Section(BaseModel):
    """A config section or part of one: frozen, unknown keys refused, camelCase keys."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, alias_generator=to_camel, populate_by_name=True
    )


# What changing a setting does to what exists (terraform-provider-ovh's ForceNew, and the
# Kubernetes objects' fixed names): docs/configuration.md's table says it for every key.
IN_PLACE = "in place"
REPLACES_POOL = "replaces the pool (the new one first, nodes drained)"
REPLACES_CLUSTER = "**replaces the cluster**: a new etcd, every workload gone"
NEVER_CHANGES = "**cannot change** after creation (OVHcloud refuses it)"


def docs(note: str = "", shown_default: str = "", change: str = "") -> dict[str, Any]:
    """What the configuration table (configuration/table.py) says of a field beyond its
    description: a note, the default when it is not a plain value, and what a change does
    (in place unless said)."""
    pairs = (("note", note), ("shown_default", shown_default), ("change", change))
    return {key: value for key, value in pairs if value}


# RFC 1123 label: what Kubernetes accepts for namespaces and what OVHcloud accepts for pool names.
RFC1123_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
RFC1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
ANNOTATION_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
# The characters that both RFC 6265 (cookie-name token) and the controller's cookie name accept.
COOKIE_NAME = r"^[A-Za-z0-9._~-]{1,64}$"
# An optional leading v, as cert-manager spells its chart versions (v1.21.1).
EXACT_VERSION = r"^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
# Namespaces every cluster has: never the stack's own (it would delete them on destroy).
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
STACK_NAME = r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$"
