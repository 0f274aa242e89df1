"""The policies of the sticky-sessions pack, importable without starting a policy server.

Each rule reads a resource's inputs as the engine sends them (camelCase Kubernetes bodies). A
value that is unknown during preview (it depends on something not created yet) is skipped, not
reported: the rule runs again on `pulumi up`, when the value is known.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

UNKNOWN = object()
_SENTINELS = {
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
}

# Where each workload type keeps its pod spec.
POD_SPEC_PATHS = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
OVH_CLUSTER = "ovh:CloudProject/kube:Kube"
OVH_API_ACCESS = "ovh:CloudProject/kubeIpRestrictions:KubeIpRestrictions"
EVERYONE = "0.0.0.0/0"
DEPRECATED_CLASS_ANNOTATION = "kubernetes.io/ingress.class"

# What ingress-nginx accepts; anything else it ignores without a word and uses its default.
NGINX = "nginx.ingress.kubernetes.io/"
COOKIE_NAME = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")
# 0 makes browsers delete the cookie at once.
POSITIVE_INTEGER = re.compile(r"^[1-9][0-9]*$")
# An optional leading v: cert-manager publishes its chart as v1.21.1.
EXACT_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
AFFINITY_MODES = ("balanced", "persistent")
SAME_SITE_VALUES = ("Strict", "Lax", "None")
BOOLEAN_STRINGS = ("true", "false")


def _get(node: Any, *path: str | int) -> Any:
    """The value at `path`, None when absent, UNKNOWN when not known during preview."""
    try:
        for key in path:
            if isinstance(node, str) and node in _SENTINELS:
                return UNKNOWN
            if isinstance(key, int):
                is_list = isinstance(node, Sequence) and not isinstance(node, str)
                node = node[key] if is_list and key < len(node) else None
            elif isinstance(node, Mapping) and key in node:
                node = node[key]
            else:
                return None
    except UnknownValueError:
        return UNKNOWN
    if isinstance(node, str) and node in _SENTINELS:
        return UNKNOWN
    return node


def _items(node: Any) -> Iterator[Any]:
    """The known items of a list (unknown ones are skipped)."""
    if node is None or node is UNKNOWN or isinstance(node, str | Mapping):
        return
    for index in range(len(node)):
        item = _get(node, index)
        if item is not UNKNOWN and item is not None:
            yield item


def _containers(args: ResourceValidationArgs) -> Iterator[tuple[Any, Any]]:
    """(pod spec, container) for every container and init container of a workload."""
    path = POD_SPEC_PATHS.get(args.resource_type)
    if path is None:
        return
    pod = _get(args.props, *path)
    if pod is None or pod is UNKNOWN:
        return
    for field in ("initContainers", "containers"):
        for container in _items(_get(pod, field)):
            yield pod, container


def image_problem(image: str) -> str | None:
    """Why an image reference is not pinned, or None when it is (tag other than latest, digest)."""
    if "@sha256:" in image:
        return None
    last_part = image.rsplit("/", 1)[-1]
    if ":" not in last_part:
        return "has no tag: it gets whatever `latest` is on each pull"
    if last_part.rsplit(":", 1)[1] == "latest":
        return "uses the `latest` tag, which moves"
    return None


def pinned_images(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for _, container in _containers(args):
        image = _get(container, "image")
        if isinstance(image, str) and (problem := image_problem(image)) is not None:
            report_violation(
                f"container {_get(container, 'name')!s} image {image!r} {problem}; "
                "pin a tag or a digest (@sha256:...)",
                None,
            )


def container_resources(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for _, container in _containers(args):
        resources = _get(container, "resources")
        if resources is UNKNOWN:
            continue
        missing = [
            f"{kind}.{resource}"
            for kind, resource in (
                ("requests", "cpu"),
                ("requests", "memory"),
                ("limits", "memory"),
            )
            if _get(resources, kind, resource) is None
        ]
        if missing:
            report_violation(
                f"container {_get(container, 'name')!s} declares no resources "
                + ", ".join(missing)
                + ": the scheduler cannot place it well and it can starve its node",
                None,
            )


def non_root_containers(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for pod, container in _containers(args):
        name = _get(container, "name")
        run_as_non_root = _get(container, "securityContext", "runAsNonRoot")
        if run_as_non_root is None:
            run_as_non_root = _get(pod, "securityContext", "runAsNonRoot")
        if run_as_non_root is not UNKNOWN and run_as_non_root is not True:
            report_violation(f"container {name!s} may run as root: set runAsNonRoot: true", None)
        escalation = _get(container, "securityContext", "allowPrivilegeEscalation")
        if escalation is not UNKNOWN and escalation is not False:
            report_violation(
                f"container {name!s} may gain privileges: set allowPrivilegeEscalation: false",
                None,
            )


def ingress_class_name(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != INGRESS:
        return
    if _get(args.props, "spec", "ingressClassName") is None:
        report_violation("the Ingress sets no spec.ingressClassName", None)
    if _get(args.props, "metadata", "annotations", DEPRECATED_CLASS_ANNOTATION) is not None:
        report_violation(
            f"the Ingress uses the deprecated {DEPRECATED_CLASS_ANNOTATION} annotation: "
            "use spec.ingressClassName",
            None,
        )


def affinity_problems(annotations: Mapping[str, Any]) -> list[str]:
    """Cookie-affinity annotation values ingress-nginx would silently ignore."""

    def value(name: str) -> Any:
        return _get(annotations, NGINX + name)

    def bad(name: str, accepted: str) -> str:
        return f"{NGINX}{name}: {value(name)!r} is not accepted ({accepted})"

    problems = []
    checks: list[tuple[str, Callable[[str], object], str]] = [
        ("affinity", lambda v: v == "cookie", "exactly cookie"),
        ("affinity-mode", lambda v: v in AFFINITY_MODES, "balanced or persistent"),
        ("session-cookie-name", COOKIE_NAME.match, "1 to 64 of A-Z a-z 0-9 . _ ~ -"),
        ("session-cookie-expires", POSITIVE_INTEGER.match, "a positive integer"),
        ("session-cookie-max-age", POSITIVE_INTEGER.match, "a positive integer"),
        ("session-cookie-samesite", lambda v: v in SAME_SITE_VALUES, "Strict, Lax or None"),
        ("session-cookie-path", lambda v: v.startswith("/"), "a path starting with /"),
        ("session-cookie-secure", lambda v: v in BOOLEAN_STRINGS, '"true" or "false"'),
        ("session-cookie-change-on-failure", lambda v: v in BOOLEAN_STRINGS, '"true" or "false"'),
    ]
    for name, accepts, accepted in checks:
        given = value(name)
        if given is None or given is UNKNOWN:
            continue
        if not isinstance(given, str) or not accepts(given):
            problems.append(bad(name, accepted))
    if value("session-cookie-samesite") == "None" and value("session-cookie-secure") not in (
        "true",
        UNKNOWN,
    ):
        problems.append(
            f"{NGINX}session-cookie-samesite: None needs {NGINX}session-cookie-secure: "
            '"true" (browsers drop the cookie otherwise)'
        )
    return problems


def cookie_affinity_annotations(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    if args.resource_type != INGRESS:
        return
    annotations = _get(args.props, "metadata", "annotations")
    if annotations is None or annotations is UNKNOWN:
        return
    for problem in affinity_problems(annotations):
        report_violation(problem, None)


def _serves_tls(props: Any) -> Any:
    """Whether an Ingress has a `spec.tls` entry; UNKNOWN while it is not known yet."""
    tls = _get(props, "spec", "tls")
    if tls is UNKNOWN:
        return UNKNOWN
    return isinstance(tls, Sequence) and not isinstance(tls, str) and len(tls) > 0


def secure_cookie_needs_tls(
    args: ResourceValidationArgs, report_violation: ReportViolation
) -> None:
    """Browsers neither keep nor send back a Secure cookie over plain http."""
    if args.resource_type != INGRESS:
        return
    secure = _get(args.props, "metadata", "annotations", NGINX + "session-cookie-secure")
    tls = _serves_tls(args.props)
    if secure == "true" and tls is False:
        report_violation(
            "the sticky cookie is Secure but the Ingress has no spec.tls: browsers would not "
            "keep it, and no session would stay on its pod",
            None,
        )


def prod_ingress_tls(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A production Ingress serves HTTPS: a session cookie in clear text can be taken."""
    for resource in args.resources:
        if resource.resource_type != INGRESS or "prod" not in stack_name(resource.urn):
            continue
        if _serves_tls(resource.props) is False:
            report_violation(
                f"production Ingress {resource.name} serves plain http: set "
                "sticky-sessions:app.host and sticky-sessions:tls.enabled true",
                resource.urn,
            )


def helm_release_pinned(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != HELM_RELEASE:
        return
    name = _get(args.props, "name")
    if name is None or name == "":
        report_violation(
            "the release has no name: Helm adds a random suffix to every object it renders",
            None,
        )
    version = _get(args.props, "version")
    if version is not UNKNOWN and not (isinstance(version, str) and EXACT_VERSION.match(version)):
        report_violation(
            f"the chart version {version!r} is not an exact version: the next `pulumi up` "
            "may install another chart",
            None,
        )


def stack_name(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::...` -> `<stack>`."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]


def _unprotected_clusters(args: StackValidationArgs, production: bool) -> Iterator[Any]:
    for resource in args.resources:
        if resource.resource_type != OVH_CLUSTER:
            continue
        if ("prod" in stack_name(resource.urn)) == production and not resource.opts.protect:
            yield resource


def prod_cluster_protected(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for cluster in _unprotected_clusters(args, production=True):
        report_violation(
            f"production cluster {cluster.name} is not protected: set "
            "sticky-sessions:cluster.protect true so that no update or destroy can delete it",
            cluster.urn,
        )


def cluster_protected(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for cluster in _unprotected_clusters(args, production=False):
        report_violation(
            f"cluster {cluster.name} is not protected (advisory outside production stacks)",
            cluster.urn,
        )


def prod_api_restricted(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A production cluster's Kubernetes API answers listed networks only, not the internet."""
    clusters = [r for r in args.resources if r.resource_type == OVH_CLUSTER]
    if not clusters or "prod" not in stack_name(clusters[0].urn):
        return
    restrictions = [r for r in args.resources if r.resource_type == OVH_API_ACCESS]
    for restriction in restrictions:
        ips = _get(restriction.props, "ips")
        if ips is not UNKNOWN and EVERYONE in list(_items(ips)):
            report_violation(
                f"production cluster API access {restriction.name} lets everyone in "
                f"({EVERYONE}): list your networks in sticky-sessions:cluster.apiAllowedCidrs",
                restriction.urn,
            )
    for cluster in clusters[len(restrictions) :]:
        report_violation(
            f"production cluster {cluster.name} answers the whole internet on its Kubernetes "
            "API: set sticky-sessions:cluster.apiAllowedCidrs",
            cluster.urn,
        )


MANDATORY = EnforcementLevel.MANDATORY
POLICIES = [
    ResourceValidationPolicy(
        name="pinned-images",
        description="Container images are pinned by tag (not latest) or digest.",
        validate=pinned_images,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="container-resources",
        description="Containers declare CPU and memory requests and a memory limit.",
        validate=container_resources,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="non-root-containers",
        description="Containers run as non-root without privilege escalation.",
        validate=non_root_containers,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="ingress-class-name",
        description="Ingresses use spec.ingressClassName, not the deprecated annotation.",
        validate=ingress_class_name,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="cookie-affinity-annotations",
        description="Cookie-affinity annotations hold values ingress-nginx accepts "
        "(it silently ignores anything else).",
        validate=cookie_affinity_annotations,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="helm-release-pinned",
        description="Helm releases are named and pin an exact chart version.",
        validate=helm_release_pinned,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="secure-cookie-needs-tls",
        description="A Secure sticky cookie is only set by an Ingress that serves TLS.",
        validate=secure_cookie_needs_tls,
        enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="prod-ingress-tls",
        description="A stack whose name contains 'prod' serves its Ingresses over TLS.",
        validate=prod_ingress_tls,
        enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="prod-cluster-protected",
        description="A stack whose name contains 'prod' protects its OVHcloud cluster.",
        validate=prod_cluster_protected,
        enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="prod-api-restricted",
        description="A stack whose name contains 'prod' restricts who reaches its Kubernetes "
        "API (not 0.0.0.0/0).",
        validate=prod_api_restricted,
        enforcement_level=MANDATORY,
    ),
    StackValidationPolicy(
        name="cluster-protected",
        description="Other stacks are advised to protect their OVHcloud cluster too.",
        validate=cluster_protected,
        enforcement_level=EnforcementLevel.ADVISORY,
    ),
]
