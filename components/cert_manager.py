"""cert-manager and the Let's Encrypt ClusterIssuer: the platform part of HTTPS.

Installed where the ingress controller is installed (ingress.enabled); app stacks only name
the ClusterIssuer on their Ingress, and cert-manager's ingress-shim issues and renews the
certificate from there.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from configuration.https import (
    ACME_SERVERS,
    CERT_MANAGER_CHART,
    CERT_MANAGER_NAMESPACE,
    TlsConfig,
)

CERT_MANAGER_RELEASE = "cert-manager"  # fixed: no random suffix on what the chart renders
# Helm waits for the three deployments and the startup check Job (the webhook answering).
CERT_MANAGER_TIMEOUT_SECONDS = 600


def cert_manager_values(tls: TlsConfig) -> dict[str, Any]:
    """Helm values of the cert-manager chart; they satisfy its values.schema.json. Requests and
    a memory limit (tls.resources) for every container the chart runs."""
    resources = tls.resources.kubernetes_spec()
    return {
        # The chart installs the CRDs and, on uninstall, keeps them (certificates survive).
        "crds": {"enabled": True, "keep": True},
        "resources": resources,
        "webhook": {"resources": resources},
        "cainjector": {"resources": resources},
        "startupapicheck": {"resources": resources},
    }


def account_key_secret(issuer: str) -> str:
    return f"{issuer}-account-key"


def cluster_issuer_spec(tls: TlsConfig, ingress_class_name: str) -> dict[str, Any]:
    """An ACME issuer answering HTTP-01 challenges through the stack's IngressClass."""
    return {
        "acme": {
            "email": tls.email,
            "server": ACME_SERVERS[tls.issuer],
            "privateKeySecretRef": {"name": account_key_secret(tls.issuer)},
            "solvers": [
                {
                    "http01": {
                        "ingress": {
                            "ingressClassName": ingress_class_name,
                            # The solver pods cert-manager starts during an issuance.
                            "podTemplate": {"spec": {"resources": tls.resources.kubernetes_spec()}},
                        }
                    }
                }
            ],
        }
    }


class CertManager(pulumi.ComponentResource):
    """The cert-manager release in its namespace and, for letsencrypt(-staging), the
    ClusterIssuer; `ready` is what issuing a certificate waits for."""

    release: k8s.helm.v3.Release
    ready: list[pulumi.Resource]

    def __init__(
        self,
        name: str,
        tls: TlsConfig,
        ingress_class_name: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("sticky-sessions:index:CertManager", name, None, opts)
        # Fixed names: a replacement deletes the old object first.
        fixed_name = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata={"name": CERT_MANAGER_NAMESPACE}, opts=fixed_name
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=CERT_MANAGER_RELEASE,
            chart=CERT_MANAGER_CHART.name,
            version=CERT_MANAGER_CHART.version,
            repository_opts={"repo": CERT_MANAGER_CHART.repository},
            namespace=namespace.metadata["name"],
            values=cert_manager_values(tls),
            cleanup_on_fail=True,
            timeout=CERT_MANAGER_TIMEOUT_SECONDS,
            opts=fixed_name,
        )
        self.ready = [self.release]
        if tls.creates_issuer:
            issuer = k8s.apiextensions.CustomResource(
                f"{name}-cluster-issuer",
                api_version="cert-manager.io/v1",
                kind="ClusterIssuer",
                metadata={"name": tls.issuer},
                spec=cluster_issuer_spec(tls, ingress_class_name),
                # Its CRD comes with the release: the issuer waits for it.
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[self.release], delete_before_replace=True
                ),
            )
            self.ready.append(issuer)
        self.register_outputs({})
