"""The what-is-my-pod app: Deployment, Service and a cookie-affinity Ingress.

The object bodies are built by pure functions so that tests can read them without the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apps.v1 import DeploymentSpecArgsDict
from pulumi_kubernetes.core.v1 import ProbeArgsDict, ServiceSpecArgsDict
from pulumi_kubernetes.meta.v1 import ObjectMetaArgsDict
from pulumi_kubernetes.networking.v1 import IngressRuleArgsDict, IngressSpecArgsDict
from pulumi_kubernetes.policy.v1 import PodDisruptionBudgetSpecArgsDict

from components.kubernetes_pieces import NO_LOSS_ROLLOUT, spread_over_zones_and_nodes
from configuration.https import TlsConfig
from configuration.sections import AffinityConfig, AppConfig

ANNOTATION_PREFIX = "nginx.ingress.kubernetes.io/"
# cert-manager's ingress-shim issues and renews the certificate of an Ingress that names its
# ClusterIssuer here.
CLUSTER_ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"
HTTP_PORT_NAME = "http"
PRE_STOP_SECONDS = 5


def app_labels(app: AppConfig) -> dict[str, str]:
    return {"app": app.name}


def deployment_name(app: AppConfig) -> str:
    return f"{app.name}-deployment"


def _http_probe(period_seconds: int, failure_threshold: int) -> ProbeArgsDict:
    return {
        "http_get": {"path": "/", "port": HTTP_PORT_NAME},
        "period_seconds": period_seconds,
        "failure_threshold": failure_threshold,
    }


def deployment_spec(app: AppConfig) -> DeploymentSpecArgsDict:
    """The tutorial's deployment.yml spec: replicas of the image, told their own pod name,
    hardened for production: least privilege, probes, spread over nodes, no-loss rollouts."""
    labels = app_labels(app)
    return {
        "replicas": app.replicas,
        "selector": {"match_labels": labels},
        "strategy": NO_LOSS_ROLLOUT,
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "automount_service_account_token": False,
                # The image may default to root: an explicit non-root user lets runAsNonRoot start.
                "security_context": {
                    "run_as_non_root": True,
                    "run_as_user": app.run_as_user,
                    "run_as_group": app.run_as_group,
                    "seccomp_profile": {"type": "RuntimeDefault"},
                },
                # Per rollout revision, so a new revision's pods spread too.
                "topology_spread_constraints": spread_over_zones_and_nodes(
                    labels, match_label_keys=["pod-template-hash"]
                ),
                "containers": [
                    {
                        "name": app.name,
                        "image": app.image,
                        "ports": [{"name": HTTP_PORT_NAME, "container_port": app.port}],
                        "env": [
                            {
                                "name": "MY_POD_NAME",
                                "value_from": {"field_ref": {"field_path": "metadata.name"}},
                            }
                        ],
                        "resources": app.resources.kubernetes_spec(),
                        "readiness_probe": _http_probe(period_seconds=5, failure_threshold=2),
                        "liveness_probe": _http_probe(period_seconds=10, failure_threshold=3),
                        # The controller keeps routing to a stopping pod for a moment: wait it out.
                        "lifecycle": {"pre_stop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
                        "security_context": {
                            "allow_privilege_escalation": False,
                            "read_only_root_filesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
            },
        },
    }


def disruption_budget_spec(app: AppConfig) -> PodDisruptionBudgetSpecArgsDict:
    """Node drains and upgrades evict one pod at a time, so sessions move one pod at a time."""
    return {"max_unavailable": 1, "selector": {"match_labels": app_labels(app)}}


def service_spec(app: AppConfig) -> ServiceSpecArgsDict:
    """The tutorial's svc.yml spec: a ClusterIP Service on the app's port."""
    return {"ports": [{"port": app.port}], "selector": app_labels(app)}


def ingress_annotations(affinity: AffinityConfig, tls: TlsConfig | None = None) -> dict[str, str]:
    """The cookie-affinity annotations (every value one the controller accepts), and with TLS the
    issuer cert-manager's ingress-shim reads and the redirect to https."""
    https = tls is not None and tls.enabled
    annotations = {
        "affinity": "cookie",
        "affinity-mode": affinity.mode,
        "session-cookie-name": affinity.cookie_name,
        "session-cookie-expires": str(affinity.expires),
        "session-cookie-max-age": str(affinity.max_age),
        "session-cookie-path": affinity.path,
        "session-cookie-secure": "true" if affinity.is_secure(https) else "false",
        "session-cookie-change-on-failure": "true" if affinity.change_on_failure else "false",
    }
    if affinity.same_site is not None:
        annotations["session-cookie-samesite"] = affinity.same_site
    if https:
        # ingress-nginx redirects by default, Traefik's NGINX provider only when told; both
        # leave cert-manager's HTTP-01 challenge path on http (a separate Ingress, and
        # ingress-nginx's no-tls-redirect-locations default).
        annotations["ssl-redirect"] = "true"
    prefixed = {ANNOTATION_PREFIX + key: value for key, value in annotations.items()}
    if https:
        assert tls is not None
        prefixed[CLUSTER_ISSUER_ANNOTATION] = tls.issuer
    return prefixed


def tls_secret_name(app: AppConfig) -> str:
    return f"{app.name}-tls"


def ingress_spec(
    app: AppConfig, ingress_class_name: str, tls: TlsConfig | None = None
) -> IngressSpecArgsDict:
    """The tutorial's Ingress spec: the app's path (`/`, Prefix) to the Service, on the app's
    host if it has one; with TLS, the host's certificate in a Secret cert-manager fills."""
    rule: IngressRuleArgsDict = {
        "http": {
            "paths": [
                {
                    "path": app.path,
                    "path_type": "Prefix",
                    "backend": {"service": {"name": app.name, "port": {"number": app.port}}},
                }
            ]
        }
    }
    if app.host is not None:
        rule["host"] = app.host
    spec: IngressSpecArgsDict = {"ingress_class_name": ingress_class_name, "rules": [rule]}
    if tls is not None and tls.enabled and app.host is not None:
        spec["tls"] = [{"hosts": [app.host], "secret_name": tls_secret_name(app)}]
    return spec


def app_url(app: AppConfig, load_balancer_address: str, https: bool = False) -> str:
    path = "" if app.path == "/" else app.path
    scheme = "https" if https and app.host else "http"
    return f"{scheme}://{app.host or load_balancer_address}{path}"


@dataclass(frozen=True)
class StickyAppArgs:
    app: AppConfig
    affinity: AffinityConfig
    ingress_class_name: pulumi.Input[str]
    load_balancer_address: pulumi.Input[str]
    # The Ingress waits for these: the controller's admission webhook rejects it until ready.
    ingress_waits_for: Sequence[pulumi.Resource] = field(default_factory=tuple)
    tls: TlsConfig | None = None


class StickyApp(pulumi.ComponentResource):
    """what-is-my-pod behind an Ingress that pins each client to one pod with a cookie."""

    url: pulumi.Output[str]
    namespace: pulumi.Output[str]
    cookie_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: StickyAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sticky-sessions:index:StickyApp", name, None, opts)
        app = args.app
        # Fixed names: pulumi-kubernetes refuses to create an object whose name exists, so a
        # replacement deletes the old object first.
        fixed_name = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        namespace_name: pulumi.Input[str] = app.namespace
        if app.namespace != "default":
            namespace = k8s.core.v1.Namespace(
                f"{name}-namespace", metadata={"name": app.namespace}, opts=fixed_name
            )
            namespace_name = namespace.metadata["name"]

        def metadata(
            object_name: str, annotations: dict[str, str] | None = None
        ) -> ObjectMetaArgsDict:
            meta: ObjectMetaArgsDict = {
                "name": object_name,
                "namespace": namespace_name,
                "labels": app_labels(app),
            }
            if annotations:
                meta["annotations"] = annotations
            return meta

        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=metadata(deployment_name(app)),
            spec=deployment_spec(app),
            opts=fixed_name,
        )
        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-disruption-budget",
            metadata=metadata(app.name),
            spec=disruption_budget_spec(app),
            opts=fixed_name,
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata(app.name),
            spec=service_spec(app),
            opts=fixed_name,
        )
        self.ingress = k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata=metadata(app.name, annotations=ingress_annotations(args.affinity, args.tls)),
            spec=pulumi.Output.from_input(args.ingress_class_name).apply(
                lambda class_name: ingress_spec(app, class_name, args.tls)
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                depends_on=list(args.ingress_waits_for),
            ),
        )
        self.namespace = pulumi.Output.from_input(namespace_name)
        self.cookie_name = pulumi.Output.from_input(args.affinity.cookie_name)
        self.url = pulumi.Output.from_input(args.load_balancer_address).apply(
            lambda address: app_url(app, address, https=args.tls is not None and args.tls.enabled)
        )
        self.register_outputs(
            {"url": self.url, "namespace": self.namespace, "cookie_name": self.cookie_name}
        )
