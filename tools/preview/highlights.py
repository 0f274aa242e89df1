"""What a reviewer reads under each resource of the preview's tree: the few properties that
matter for its type, and the config keys whose change replaces it."""

from __future__ import annotations

import json
from typing import Any

from configuration.base import REPLACES_CLUSTER, REPLACES_POOL
from configuration.errors import model_fields
from configuration.sections import SECTION_MODELS
from tools.preview.recorded import Registration, plain


def keys_that(change: str) -> list[str]:
    """The config keys whose change does `change` (their `docs(change=...)` in the models)."""
    return [
        f"{section}.{name}"
        for section, model in SECTION_MODELS.items()
        for name, field in model_fields(model).items()
        if isinstance(field.json_schema_extra, dict)
        and field.json_schema_extra.get("change") == change
    ]


def _shown(value: Any) -> str:
    """A value as YAML writes it: true/false, not Python's True/False."""
    return json.dumps(value) if isinstance(value, bool) or value is None else str(value)


def highlights(resource: Registration) -> list[str]:
    """The few properties a reviewer cares about, one `key: value` per entry."""
    inputs = plain(resource.inputs)
    spec = inputs.get("spec") or {}
    metadata = inputs.get("metadata") or {}
    kind = resource.type
    if resource.read:
        return [f"reads: {resource.id}"]
    if kind == "ovh:CloudProject/kube:Kube":
        keys = ("name", "region", "plan", "version", "updatePolicy", "privateNetworkId")
        lines = [f"{key}: {inputs[key]}" for key in keys if key in inputs]
        lines.append("replaced by a change of: " + ", ".join(keys_that(REPLACES_CLUSTER)))
        if resource.protect:
            lines.append("protected: a change that replaces it is refused")
        return lines
    if kind == "ovh:CloudProject/kubeIpRestrictions:KubeIpRestrictions":
        return ["Kubernetes API answers only: " + ", ".join(inputs.get("ips") or [])]
    if kind in (
        "ovh:CloudProject/networkPrivate:NetworkPrivate",
        "ovh:CloudProject/gateway:Gateway",
    ):
        return [f"name: {inputs.get('name')}"]
    if kind == "ovh:CloudProject/kubeNodePool:KubeNodePool":
        zones = ", ".join(inputs.get("availabilityZones") or []) or "the region's"
        return [
            f"name: {inputs.get('name')}  flavor: {inputs.get('flavorName')}  zone: {zones}",
            "nodes: {minNodes} <= {desiredNodes} <= {maxNodes}".format(**inputs),
            f"autoscale: {_shown(inputs.get('autoscale'))}  "
            f"antiAffinity: {_shown(inputs.get('antiAffinity'))}",
            "replaced (the new pool first) by a change of: " + ", ".join(keys_that(REPLACES_POOL)),
        ]
    if kind == "pulumi:pulumi:StackReference":
        return [f"reads the outputs of stack {inputs.get('name')}"]
    if kind == "pulumi:providers:kubernetes":
        return [f"{key}: {value}" for key, value in sorted(inputs.items())]
    if kind == "ovh:Domain/zoneRecord:ZoneRecord":
        name = ".".join(part for part in (inputs.get("subdomain"), inputs.get("zone")) if part)
        return [
            f"record: {name}. {inputs.get('ttl')} IN {inputs.get('fieldtype')} "
            f"{inputs.get('target')}",
            "added beside any record already at that name (the provider does not look)",
        ]
    if kind == "kubernetes:cert-manager.io/v1:ClusterIssuer":
        acme = spec.get("acme") or {}
        solvers = acme.get("solvers") or [{}]
        solver_class = ((solvers[0].get("http01") or {}).get("ingress") or {}).get(
            "ingressClassName"
        )
        return [
            f"name: {metadata.get('name')}  ACME: {acme.get('server')}",
            f"account e-mail: {acme.get('email')}  HTTP-01 through class: {solver_class}",
            f"account key in Secret: {(acme.get('privateKeySecretRef') or {}).get('name')}",
        ]
    if kind == "kubernetes:helm.sh/v3:Release":
        values = inputs.get("values") or {}
        # ingress-nginx's chart and Traefik's say "replicas" in two places.
        replicas = (values.get("controller") or {}).get("replicaCount") or (
            values.get("deployment") or {}
        ).get("replicas")
        lines = [
            f"release: {inputs.get('name')}  namespace: {inputs.get('namespace')}",
            f"chart: {inputs.get('chart')} {inputs.get('version')} from "
            f"{(inputs.get('repositoryOpts') or {}).get('repo')}",
        ]
        if replicas is not None:
            lines.append(f"controller replicas: {replicas}")
        return lines + _role_lines(inputs.get("name"), values)
    lines = []
    if metadata.get("name"):
        where = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
        lines.append(f"name: {where}{metadata['name']}")
    if kind == "kubernetes:apps/v1:Deployment":
        containers = spec["template"]["spec"]["containers"]
        lines.append(f"replicas: {spec.get('replicas')}")
        lines += [f"image: {c['image']}" for c in containers]
    elif kind == "kubernetes:core/v1:Service":
        ports = ", ".join(str(p.get("port")) for p in spec.get("ports", []))
        selector = ", ".join(f"{k}={v}" for k, v in (spec.get("selector") or {}).items())
        lines.append(f"ports: {ports}  selector: {selector}")
    elif kind == "kubernetes:networking.k8s.io/v1:IngressClass":
        lines.append(f"controller: {spec.get('controller')}")
    elif kind == "kubernetes:networking.k8s.io/v1:Ingress":
        lines.append(f"ingressClassName: {spec.get('ingressClassName')}")
        for tls in spec.get("tls") or []:
            hosts = ", ".join(tls.get("hosts") or [])
            lines.append(f"tls: {hosts} (certificate in Secret {tls.get('secretName')})")
        for rule in spec.get("rules", []):
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                lines.append(
                    f"route: {rule.get('host', '*')}{path['path']} ({path['pathType']}) -> "
                    f"{backend['name']}:{backend['port']['number']}"
                )
        lines += [f"annotation {k}: {v}" for k, v in (metadata.get("annotations") or {}).items()]
    return lines


def _role_lines(release: Any, values: dict[str, Any]) -> list[str]:
    """What a controller's release does to the Ingress status and the address, when a migration
    phase makes it not the plain serving controller (the preview says the phase at a glance)."""
    nginx = values.get("controller") or {}
    if nginx:
        lines = []
        if (nginx.get("extraArgs") or {}).get("update-status") == "false":
            lines.append("Ingress status: not written (stands by after the cut-over)")
        if (nginx.get("service") or {}).get("enabled") is False:
            lines.append("load balancer Service: none (its address went to Traefik)")
        return lines
    service = values.get("service") or {}
    provider = (values.get("providers") or {}).get("kubernetesIngressNGINX") or {}
    if (provider.get("publishService") or {}).get("enabled") is False:
        extra = ", ".join(f"{release}-{name}" for name in service.get("additionalServices") or {})
        return [f"Ingress status: not written (tested side by side at Service {extra})"]
    return []
