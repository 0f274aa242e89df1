"""The cluster and node pool sections: what OVHcloud is asked for, or where the cluster is."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from components.config_base import (
    RFC1123_LABEL,
    SERVICE_NAME_ENV,
    STACK_NAME,
    Section,
    docs,
)
from components.config_errors import model_problem
from components.kubeconfig import kubeconfig_cluster

# Kubernetes minors that OVHcloud Managed Kubernetes offers for new clusters (its
# "software versions" page); update this set when OVHcloud adds or retires a minor.
SUPPORTED_KUBERNETES_VERSIONS = ("1.31", "1.32", "1.33", "1.34", "1.35")
DEFAULT_KUBERNETES_VERSION = "1.34"

ClusterMode = Literal["create", "existing", "stack"]


class ClusterConfig(Section):
    mode: ClusterMode = Field(
        default="create",
        description="create (an OVHcloud cluster in this stack), existing (from "
        "cluster.kubeconfig) or stack (from another stack's outputs, cluster.stack)",
        json_schema_extra=docs(note="see *Stack composition*"),
    )
    service_name: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{32}$",
        description="an OVHcloud Public Cloud project id (32 lowercase hexadecimal characters)",
        json_schema_extra=docs(
            note="required in `create` mode", shown_default="`$OVH_CLOUD_PROJECT_SERVICE`"
        ),
    )
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
        description="1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit",
        json_schema_extra=docs(shown_default="`sticky-<stack>`"),
    )
    region: str = Field(
        default="GRA9",
        pattern=r"^[A-Z]+[0-9]*(-[A-Z0-9]+)*$",
        description="an OVHcloud region code such as GRA9, SBG5, BHS5, DE1 or EU-WEST-PAR",
    )
    version: str = Field(
        default=DEFAULT_KUBERNETES_VERSION,
        description="a Kubernetes MAJOR.MINOR that OVHcloud offers: "
        + ", ".join(SUPPORTED_KUBERNETES_VERSIONS),
    )
    update_policy: Literal["ALWAYS_UPDATE", "MINIMAL_DOWNTIME", "NEVER_UPDATE"] = Field(
        default="MINIMAL_DOWNTIME",
        description="one of ALWAYS_UPDATE, MINIMAL_DOWNTIME, NEVER_UPDATE",
    )
    private_network_id: str | None = Field(
        default=None, min_length=1, description="an OVHcloud private network (vRack) id"
    )
    protect: bool = Field(
        default=False,
        description="true or false",
        json_schema_extra=docs(note="`true` protects the cluster and pool from deletion"),
    )
    kubeconfig: SecretStr | None = Field(
        default=None,
        description="the kubeconfig of an existing cluster, set with --secret",
        json_schema_extra={"secret": True, "note": "`existing` mode"},
    )
    stack: str | None = Field(
        default=None,
        pattern=STACK_NAME,
        description="the stack that owns the cluster, as <organization>/<project>/<stack>",
        json_schema_extra=docs(note="`stack` mode"),
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_from_stack(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or info.context is None:
            return data
        if data.get("mode", "create") != "create":
            return data
        filled = dict(data)
        environ = info.context.get("environ", {})
        if "serviceName" not in filled and environ.get(SERVICE_NAME_ENV):
            filled["serviceName"] = environ[SERVICE_NAME_ENV]
        filled.setdefault("name", f"sticky-{info.context['stack']}")
        return filled

    @field_validator("version")
    @classmethod
    def _supported_version(cls, version: str) -> str:
        if version not in SUPPORTED_KUBERNETES_VERSIONS:
            raise ValueError("OVHcloud does not offer it")
        return version

    @field_validator("kubeconfig")
    @classmethod
    def _a_kubeconfig(cls, kubeconfig: SecretStr | None) -> SecretStr | None:
        if kubeconfig is not None:
            kubeconfig_cluster(kubeconfig.get_secret_value())
        return kubeconfig


class NodePoolConfig(Section):
    name: str = Field(
        default="default",
        pattern=RFC1123_LABEL,
        description="an RFC 1123 label: lowercase letters, digits, '-' (OVHcloud refuses '_')",
    )
    flavor: str = Field(
        default="b3-8",
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)+$",
        description="an OVHcloud instance flavor such as b3-8, b3-16 or c3-8",
    )
    desired_nodes: int = Field(default=3, ge=1, le=100, description="an integer from 1 to 100")
    min_nodes: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="an integer from 0 to 100 (default: desiredNodes)",
        json_schema_extra=docs(
            note="`minNodes <= desiredNodes <= maxNodes`", shown_default="`desiredNodes`"
        ),
    )
    max_nodes: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="an integer from 1 to 100 (default: desiredNodes)",
        json_schema_extra=docs(
            note="`minNodes <= desiredNodes <= maxNodes`", shown_default="`desiredNodes`"
        ),
    )
    autoscale: bool = Field(
        default=False,
        description="true or false",
        json_schema_extra=docs(note="needs `minNodes < maxNodes`"),
    )
    anti_affinity: bool = Field(
        default=False,
        description="true or false",
        json_schema_extra=docs(note="nodes on distinct hypervisors; at most 5 nodes"),
    )
    monthly_billed: bool = Field(default=False, description="true or false")

    @model_validator(mode="after")
    def _coherent_sizes(self) -> NodePoolConfig:
        low, desired, high = self.lowest, self.desired_nodes, self.highest
        if low > high:
            raise model_problem(
                "needs minNodes <= maxNodes, got {got}",
                key="maxNodes",
                got=f"minNodes {low}, maxNodes {high}",
                fix=str(low),
            )
        if not low <= desired <= high:
            raise model_problem(
                "needs minNodes <= desiredNodes <= maxNodes, got {got}",
                key="desiredNodes",
                got=f"{low} <= {desired} <= {high}",
                fix=str(min(max(desired, low), high)),
            )
        if self.anti_affinity and high > 5:
            raise model_problem(
                "antiAffinity allows at most 5 nodes per pool, got maxNodes {got}",
                key="maxNodes",
                got=high,
                fix="5",
            )
        if self.autoscale and low == high:
            raise model_problem(
                "autoscale needs room to scale: minNodes ({got}) equals maxNodes",
                key="maxNodes",
                got=low,
            )
        return self

    @property
    def lowest(self) -> int:
        return self.desired_nodes if self.min_nodes is None else self.min_nodes

    @property
    def highest(self) -> int:
        return self.desired_nodes if self.max_nodes is None else self.max_nodes
