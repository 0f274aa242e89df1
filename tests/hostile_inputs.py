"""The table of mistaken and hostile stack files and `--set` values that tests/test_hostile.py
runs through the offline preview: each row is (stack file, sets, exit code, key named)."""

from __future__ import annotations

import pytest

from tools.preview.command import EXIT_INVALID, EXIT_OK

MARKER = "SECRETMARK"  # every secret value below contains it; no output may
SECURE = {"secure": f"v1:{MARKER}0123456789"}  # a ciphertext as `--secret` stores it
KUBECONFIG_WITH_TOKEN = (
    "apiVersion: v1\\nkind: Config\\ncurrent-context: c\\n"
    "contexts: [{name: c, context: {cluster: k, user: u}}]\\n"
    "clusters: [{name: k, cluster: {server: 'https://203.0.113.20:6443'}}]\\n"
    f"users: [{{name: u, user: {{token: {MARKER}-token}}}}]\\n"
)
EXISTING = (
    "  sticky-sessions:cluster:\n    mode: existing\n    kubeconfig:\n      secure: v1:eA==\n"
)
FROM_STACK = "  sticky-sessions:cluster:\n    mode: stack\n    stack: acme/sticky-sessions/shared\n"
APP = "  sticky-sessions:app:\n"
AFFINITY = "  sticky-sessions:affinity:\n"
INGRESS = "  sticky-sessions:ingress:\n"
POOL = "  sticky-sessions:nodePool:\n"
CLUSTER = "  sticky-sessions:cluster:\n"


def row(name: str, config: str | bytes, key: str | None, code: int = EXIT_INVALID, *sets: str):
    return pytest.param(config, list(sets), code, key, id=name)


ROWS = [
    # --- the stack file as the CLI reads it (YAML 1.2, its refusals, file and line) ---------
    row("yes is not a boolean", CLUSTER + "    protect: yes\n", "cluster.protect"),
    row("on is not a boolean", APP + "    enabled: on\n", "app.enabled"),
    row("an unquoted version is a number", CLUSTER + "    version: 1.30\n", "quote it"),
    row("a date where text is expected", CLUSTER + "    version: 2026-01-01\n", "version"),
    row("duplicate top-level key", APP + "    replicas: 2\n" + APP, "Pulumi.t.yaml:"),
    row("duplicate nested key", APP + "    replicas: 2\n    replicas: 3\n", "Pulumi.t.yaml:4"),
    row("tab indentation", APP + "\treplicas: 2\n", "Pulumi.t.yaml:3"),
    row("invalid UTF-8", b"config:\n  sticky-sessions:app:\n    name: caf\xe9\n", "invalid UTF-8"),
    row("malformed YAML", APP + "    replicas: [2\n", "Pulumi.t.yaml:"),
    row("key without a namespace gets the project's", "  app:\n    replicas: 2\n", None, EXIT_OK),
    row(
        "underscore namespace",
        "  sticky_sessions:cluster:\n    protect: true\n",
        "sticky_sessions:",
    ),
    row("capitalised namespace", "  Sticky-Sessions:app:\n    replicas: 2\n", "Sticky-Sessions:"),
    row("namespace without dash", "  stickysessions:app:\n    replicas: 2\n", "stickysessions:"),
    row(
        "alias bomb",
        "  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"  {chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)},"
            f" *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)},"
            f" *{chr(97 + i)}, *{chr(97 + i)}]\n"
            for i in range(8)
        ),
        "aliasing",
    ),
    row("a list where a number is expected", APP + "    replicas: [1, 2]\n", "app.replicas"),
    row("a mapping where a name is expected", AFFINITY + "    cookieName: {a: 1}\n", "cookieName"),
    row("an empty section", "  sticky-sessions:app:\n", "sticky-sessions:app"),
    row("not a number", APP + "    replicas: .nan\n", "JSON has no nan"),
    row("a huge value", APP + "    name: " + "a" * 200_000 + "\n", "app.name"),
    row("top level not a mapping", b"- config\n", "top level must be a mapping"),
    row("config not a mapping", b"config: [1, 2]\n", "`config:` must be a mapping"),
    # --- secrets: never echoed, never in plain text, secret to the end or refused -----------
    row(
        "plain OVH application secret",
        f"  ovh:applicationSecret: {MARKER}\n",
        "ovh:applicationSecret",
    ),
    row("plain OVH consumer key", f"  ovh:consumerKey: {MARKER}\n", "ovh:consumerKey"),
    row("plain OVH client secret", f"  ovh:clientSecret: {MARKER}\n", "ovh:clientSecret"),
    row("plain OVH access token", f"  ovh:accessToken: {MARKER}\n", "ovh:accessToken"),
    row(
        "mistyped kubeConfig in plain text",
        CLUSTER + f'    mode: existing\n    kubeConfig: "{KUBECONFIG_WITH_TOKEN}"\n',
        "cluster.kubeConfig",
    ),
    row(
        "plain kubeconfig",
        CLUSTER + f'    mode: existing\n    kubeconfig: "{KUBECONFIG_WITH_TOKEN}"\n',
        "stored in plain text",
    ),
    row("secret app name", APP + f"    name: {{secure: v1:{MARKER}}}\n", "sticky-sessions:app"),
    row("secret cookie name", AFFINITY + f"    cookieName: {{secure: v1:{MARKER}}}\n", "affinity"),
    row(
        "secret service annotation",
        INGRESS + f"    serviceAnnotations: {{a.b/c: {{secure: v1:{MARKER}}}}}\n",
        "sticky-sessions:ingress",
    ),
    row("secret pool flavor", POOL + f"    flavor: {{secure: v1:{MARKER}}}\n", "nodePool"),
    row(
        "secret project id is kept secret",
        CLUSTER + f"    serviceName: {{secure: v1:{MARKER}}}\n",
        None,
        EXIT_OK,
    ),
    row(
        "secret private network",
        "  sticky-sessions:network:\n    mode: existing\n"
        + f"    privateNetworkId: {{secure: v1:{MARKER}}}\n",
        "sticky-sessions:network",
    ),
    row(
        "secret stack name",
        CLUSTER
        + f"    mode: stack\n    stack: {{secure: v1:{MARKER}}}\n"
        + POOL.rstrip()
        + " {}\n",
        "sticky-sessions:cluster",
    ),
    row(
        "unknown section with a secret-looking value",
        f"  sticky-sessions:aap: {MARKER}\n",
        "sticky-sessions:aap",
    ),
    row("unknown key never quoted", APP + f"    token: {MARKER}\n", "app.token"),
    # --- cookies browsers drop or neutralise ------------------------------------------------
    row("max-age zero", AFFINITY + "    maxAge: 0\n", "affinity.maxAge"),
    row("expires negative", AFFINITY + "    expires: -1\n", "affinity.expires"),
    row("__Host- without Secure", AFFINITY + "    cookieName: __Host-route\n", "cookieName"),
    row("__Secure- without Secure", AFFINITY + "    cookieName: __Secure-route\n", "cookieName"),
    row(
        "cookie path outside the app",
        APP + "    path: /shop\n" + AFFINITY + "    path: /admin\n",
        "affinity.path",
    ),
    row(
        "cookie path a prefix only",
        APP + "    path: /shopping\n" + AFFINITY + "    path: /shop\n",
        "affinity.path",
    ),
    row("Secure over plain http", AFFINITY + "    secure: true\n", "affinity.secure"),
    row("SameSite None over http", AFFINITY + "    sameSite: none\n", "affinity.sameSite"),
    row("cookie path with a comma", AFFINITY + "    path: /a,b\n", "affinity.path"),
    row("cookie name 65 characters", AFFINITY + "    cookieName: " + "c" * 65 + "\n", "cookieName"),
    # --- paths the controller or Kubernetes refuse -------------------------------------------
    row("tilde path", APP + "    path: /~shop\n" + AFFINITY + "    path: /\n", "app.path"),
    row("wildcard path", APP + "    path: /shop/*\n", "app.path"),
    row("non-ASCII path", APP + "    path: /café\n", "app.path"),
    row("double slash", APP + "    path: /a//b\n", "app.path"),
    row("dot-dot segment", APP + "    path: /a/../b\n", "app.path"),
    row("trailing dot", APP + "    path: /a/.\n", "app.path"),
    row("relative path", APP + "    path: shop\n", "app.path"),
    row("encoded slash", APP + "    path: /a%2fb\n", "app.path"),
    row("a dotted path is accepted", APP + "    path: /api/v1.0\n", None, EXIT_OK),
    # --- names Kubernetes refuses ------------------------------------------------------------
    row("service name starting with a digit", APP + "    name: 1app\n", "app.name"),
    row("uppercase name", APP + "    name: App\n", "app.name"),
    row("host is an IPv4 address", APP + "    host: 10.0.0.1\n", "app.host"),
    row("host label too long", APP + "    host: " + "a" * 64 + ".example.com\n", "app.host"),
    row("host with a scheme", APP + "    host: https://x.example.com\n", "app.host"),
    # --- namespaces every cluster has -----------------------------------------------------------
    row("controller in kube-system", INGRESS + "    namespace: kube-system\n", "ingress.namespace"),
    row("controller in default", INGRESS + "    namespace: default\n", "ingress.namespace"),
    row("app in kube-public", APP + "    namespace: kube-public\n", "app.namespace"),
    row("app in kube-node-lease", APP + "    namespace: kube-node-lease\n", "app.namespace"),
    row(
        "app stack owning the controller's namespace",
        FROM_STACK
        + POOL
        + "    {}\n"
        + INGRESS
        + "    enabled: false\n"
        + APP
        + "    namespace: ingress-nginx\n",
        "app.namespace",
    ),
    # --- versions and images -------------------------------------------------------------------
    row(
        "Traefik with an ingress-nginx version",
        INGRESS + "    controller: traefik\n    chartVersion: 4.15.1\n",
        "chartVersion",
    ),
    row(
        "ingress-nginx with a Traefik version",
        INGRESS + "    chartVersion: 41.3.0\n",
        "chartVersion",
    ),
    row(
        "non-ASCII digits",
        INGRESS + "    chartVersion: \u0664.\u0661\u0665.\u0661\n",
        "chartVersion",
    ),
    row("version range", INGRESS + "    chartVersion: ^4.15\n", "chartVersion"),
    row("uppercase repository", APP + "    image: ovhplatform/What-Is-My-Pod:1.0.1\n", "app.image"),
    row("empty digest", APP + "    image: 'ovhplatform/what-is-my-pod@sha256:'\n", "app.image"),
    row("trailing colon is YAML's error", APP + "    image: app@sha256:\n", "Pulumi.t.yaml:3"),
    row("short digest", APP + "    image: ovhplatform/what-is-my-pod@sha256:abc\n", "app.image"),
    row(
        "invisible character",
        APP + "    image: ovhplatform/what-is-my-pod:1.0.1\u200b\n",
        "app.image",
    ),
    row("latest tag", APP + "    image: ovhplatform/what-is-my-pod:latest\n", "app.image"),
    row("no tag", APP + "    image: ovhplatform/what-is-my-pod\n", "app.image"),
    row("space in image", APP + '    image: "what is my pod:1"\n', "app.image"),
    row(
        "registry and digest accepted",
        APP + "    image: registry.example.com:5000/team/app@sha256:" + "a" * 64 + "\n",
        None,
        EXIT_OK,
    ),
    # --- settings that contradict each other ---------------------------------------------------
    row(
        "flavor annotation beside loadBalancerFlavor",
        INGRESS
        + "    loadBalancerFlavor: large\n"
        + "    serviceAnnotations: {loadbalancer.ovhcloud.com/flavor: small}\n",
        "loadBalancerFlavor",
    ),
    row(
        "proxy-protocol annotation by hand",
        INGRESS + "    serviceAnnotations: {loadbalancer.openstack.org/proxy-protocol: 'true'}\n",
        "proxyProtocol",
    ),
    row(
        "memory without a unit",
        APP + "    resources: {requests: {memory: '64'}}\n",
        "requests.memory",
    ),
    row(
        "memory limit without a unit",
        INGRESS + "    resources: {limits: {memory: '128'}}\n",
        "limits.memory",
    ),
    row("snake_case key", POOL + "    desired_nodes: 2\n", "nodePool.desired_nodes"),
    row(
        "service_name in existing mode",
        EXISTING + "    service_name: x\n" + POOL + "    {}\n",
        "cluster.service_name",
    ),
    row(
        "private_network_id in stack mode",
        FROM_STACK + "    private_network_id: x\n" + POOL + "    {}\n",
        "private_network_id",
    ),
    row(
        "region in existing mode",
        EXISTING + "    region: GRA9\n" + POOL + "    {}\n",
        "cluster.region",
    ),
    row("create mode without a controller", INGRESS + "    enabled: false\n", "ingress.enabled"),
    row("node pool in stack mode", FROM_STACK + POOL + "    flavor: b3-16\n", "nodePool.flavor"),
    # --- messages that help --------------------------------------------------------------------
    row("controller typo: one line", INGRESS + "    controller: nginx\n", "ingress.controller"),
    # --- the move to Traefik, mistaken ------------------------------------------------------
    row("migration capitalised", INGRESS + "    migration: Side-By-Side\n", "ingress.migration"),
    row("migration a boolean", INGRESS + "    migration: true\n", "ingress.migration"),
    row("migration a list", INGRESS + "    migration: [side-by-side]\n", "ingress.migration"),
    row("migration empty", INGRESS + "    migration: ''\n", "ingress.migration"),
    row(
        "migration with underscores", INGRESS + "    migration: side_by_side\n", "ingress.migration"
    ),
    row(
        "migration back to ingress-nginx",
        INGRESS + "    migration: cut-over\n",
        "ingress.migration",
    ),
    row(
        "migration in an app stack",
        FROM_STACK + INGRESS + "    enabled: false\n    controller: traefik\n"
        "    migration: side-by-side\n",
        "ingress.migration",
    ),
    row(
        "address moved, not kept",
        INGRESS
        + "    controller: traefik\n    migration: cut-over\n    loadBalancerIp: 51.210.1.10\n",
        "ingress.keepFloatingIp",
    ),
    row(
        "--set migration with a space",
        "",
        "ingress.migration",
        EXIT_INVALID,
        "sticky-sessions:ingress.controller=traefik",
        "sticky-sessions:ingress.migration=side-by-side ",
    ),
    row(
        "--set a migration phase",
        "",
        None,
        EXIT_OK,
        "sticky-sessions:ingress.controller=traefik",
        "sticky-sessions:ingress.migration=cut-over",
    ),
    row("min above max: fix maxNodes", POOL + "    minNodes: 3\n    maxNodes: 2\n", "maxNodes 3"),
    row(
        "desired above max",
        POOL + "    desiredNodes: 4\n    minNodes: 1\n    maxNodes: 2\n",
        "desiredNodes 2",
    ),
    row("min defaults to desired", POOL + "    desiredNodes: 4\n    maxNodes: 2\n", "maxNodes 4"),
    row("anti-affinity over 5", POOL + "    antiAffinity: true\n    maxNodes: 6\n", "maxNodes"),
    row("autoscale without room", POOL + "    autoscale: true\n", "maxNodes"),
    row("replicas a boolean", APP + "    replicas: true\n", "app.replicas"),
    row("replicas a float", APP + "    replicas: 1e3\n", "app.replicas"),
    row("port zero", APP + "    port: 0\n", "app.port"),
    row("controller replicas 21", INGRESS + "    replicas: 21\n", "ingress.replicas"),
    row(
        "annotation value too long",
        INGRESS + "    serviceAnnotations: {a.b/c: " + "v" * 5000 + "}\n",
        'serviceAnnotations["a.b/c"]',
    ),
    row(
        "annotation key invalid",
        INGRESS + '    serviceAnnotations: {"bad key": x}\n',
        "serviceAnnotations",
    ),
    row("region lowercase", CLUSTER + "    region: gra9\n", "cluster.region"),
    row("update policy unknown", CLUSTER + "    updatePolicy: SOMETIMES\n", "updatePolicy"),
    row("flavor uppercase", POOL + "    flavor: B3-8\n", "nodePool.flavor"),
    # --- cluster modes ------------------------------------------------------------------------
    row(
        "existing without kubeconfig",
        CLUSTER + "    mode: existing\n" + POOL + "    {}\n",
        "cluster.kubeconfig",
    ),
    row("stack without stack", CLUSTER + "    mode: stack\n" + POOL + "    {}\n", "cluster.stack"),
    row("unknown mode", CLUSTER + "    mode: borrow\n", "cluster.mode"),
    row(
        "stack name shape",
        CLUSTER + "    mode: stack\n    stack: shared\n" + POOL + "    {}\n",
        "cluster.stack",
    ),
    row("existing mode works", EXISTING + POOL + "    {}\n", None, EXIT_OK),
    row("stack mode works", FROM_STACK + POOL + "    {}\n", None, EXIT_OK),
    # --- `--set` as `pulumi config set --path` stores it ---------------------------------------
    row("--set version text accepted", "", None, EXIT_OK, "sticky-sessions:cluster.version=1.35"),
    row(
        "--set leading zero stays text",
        "",
        "app.replicas",
        EXIT_INVALID,
        "sticky-sessions:app.replicas=05",
    ),
    row(
        "--set yes stays text",
        "",
        "cluster.protect",
        EXIT_INVALID,
        "sticky-sessions:cluster.protect=yes",
    ),
    row("--set signed integer", "", None, EXIT_OK, "sticky-sessions:app.replicas=+3"),
    row(
        "--set full-width digits",
        "",
        "app.port",
        EXIT_INVALID,
        "sticky-sessions:app.port=\uff11\uff12\uff13",
    ),
    row(
        "--set a reserved secure map",
        "",
        "reserved",
        EXIT_INVALID,
        "sticky-sessions:affinity.secure=yes",
    ),
    row("--set without a value", "", "KEY=VALUE", EXIT_INVALID, "sticky-sessions:app.replicas"),
    row("--set without a namespace", "", "namespace", EXIT_INVALID, "app.replicas=3"),
    row("--set a path it cannot read", "", "path", EXIT_INVALID, 'sticky-sessions:app["x=1'),
]
