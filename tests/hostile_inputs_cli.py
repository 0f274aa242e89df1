"""More rows for tests/test_hostile.py (#24): the values the CLI hands over differently from how
they are written (floats without a fraction, `!!binary`, keys without a namespace) and
Kubernetes quantities (integer CPUs, decimals with a suffix), each accepted or refused as the
CLI and Kubernetes decide."""

from __future__ import annotations

from tests.hostile_inputs import APP, INGRESS, row
from tools.preview.command import EXIT_OK

REQUESTS = APP + "    resources:\n      requests:\n"
LIMITS = "      limits:\n        memory: 4Gi\n"

CLI_ROWS = [
    # --- a float with no fraction is an integer to the program (Go's JSON), others stay floats
    row("3.0 replicas", APP + "    replicas: 3.0\n", None, EXIT_OK),
    row("1e1 replicas", APP + "    replicas: 1e1\n", None, EXIT_OK),
    row("1.0e+1 replicas", APP + "    replicas: 1.0e+1\n", None, EXIT_OK),
    row("2.50 replicas", APP + "    replicas: 2.50\n", "app.replicas"),
    row("1e21 replicas stays a float", APP + "    replicas: 1e21\n", "app.replicas"),
    row("-0.0 replicas", APP + "    replicas: -0.0\n", "app.replicas"),
    row("3.0 controller replicas", INGRESS + "    replicas: 3.0\n", None, EXIT_OK),
    row("20.0 controller replicas", INGRESS + "    replicas: 20.0\n", None, EXIT_OK),
    row("21.0 controller replicas", INGRESS + "    replicas: 21.0\n", "ingress.replicas"),
    row(".inf replicas", APP + "    replicas: .inf\n", "JSON has no"),
    # --- !!binary: its decoded text, as yaml.v3 gives it
    row("binary host", APP + "    host: !!binary c3RpY2t5LmV4YW1wbGUuY29t\n", None, EXIT_OK),
    row("binary replicas is text", INGRESS + "    replicas: !!binary Mg==\n", "ingress.replicas"),
    row("binary not UTF-8", APP + "    host: !!binary /w==\n", "app.host"),
    row("binary empty", APP + "    host: !!binary ''\n", "app.host"),
    row(
        "binary in a list",
        INGRESS + "    proxyProtocolTrustedCidrs: [!!binary MTAuMC4wLjAvOA==]\n",
        "proxyProtocolTrustedCidrs",
    ),
    row("binary garbage", APP + "    host: !!binary '%%%'\n", "Pulumi.t.yaml:3: invalid YAML"),
    row("binary control bytes", APP + "    host: !!binary AAECAw==\n", "app.host"),
    row("binary newline host", APP + "    host: !!binary YQpi\n", "app.host"),
    row(
        "binary cookie name",
        "  sticky-sessions:affinity:\n    cookieName: !!binary c2Vzcw==\n",
        None,
        EXIT_OK,
    ),
    row("binary top-level value", "  sticky-sessions:app: !!binary e30=\n", None, EXIT_OK),
    # --- keys without a namespace get the project's name (workspace/loaders.go)
    row("app without namespace", "  app:\n    replicas: 3\n", None, EXIT_OK),
    row("ingress without namespace", "  ingress:\n    replicas: 2\n", None, EXIT_OK),
    row("both spellings", "  app:\n    replicas: 3\n" + APP + "    replicas: 4\n", "same key"),
    row(
        "both spellings, other order",
        APP + "    replicas: 4\n  app:\n    replicas: 3\n",
        "same key",
    ),
    row("unknown key without namespace", "  replicaz: 3\n", "sticky-sessions:replicaz"),
    row("empty namespace", "  :app:\n    replicas: 3\n", "<namespace>:<name>"),
    row("empty name", "  sticky-sessions::\n    replicas: 3\n", "Pulumi.t.yaml:"),
    row("bad value under a bare key", "  app:\n    replicas: 0\n", "sticky-sessions:app.replicas"),
    row(
        "bare key and provider key",
        "  app:\n    replicas: 3\n  ovh:endpoint: ovh-eu\n",
        None,
        EXIT_OK,
    ),
    row("bare affinity", "  affinity:\n    sameSite: lax\n", None, EXIT_OK),
    # --- quantities: Kubernetes' grammar, a number where the CLI stores one
    row("integer CPU", REQUESTS + "        cpu: 1\n", None, EXIT_OK),
    row("float CPU", REQUESTS + "        cpu: 0.5\n", None, EXIT_OK),
    row("decimal CPU text", REQUESTS + "        cpu: '1.5'\n", None, EXIT_OK),
    row("millicores", REQUESTS + "        cpu: 1500m\n", None, EXIT_OK),
    row("CPU with an exponent", REQUESTS + "        cpu: '5e-1'\n", None, EXIT_OK),
    row("CPU with a capital exponent", REQUESTS + "        cpu: '1E0'\n", None, EXIT_OK),
    row("zero CPU with an exponent", REQUESTS + "        cpu: '0e3'\n", "requests.cpu"),
    row("zero CPU", REQUESTS + "        cpu: 0\n", "requests.cpu"),
    row("negative CPU", REQUESTS + "        cpu: -1\n", "requests.cpu"),
    row("CPU with a comma", REQUESTS + "        cpu: '1,5'\n", "requests.cpu"),
    row("CPU in gigabytes", REQUESTS + "        cpu: 1Gi\n", "requests.cpu"),
    row("boolean CPU", REQUESTS + "        cpu: true\n", "requests.cpu"),
    row("decimal memory", REQUESTS + "        memory: 1.5Gi\n" + LIMITS, None, EXIT_OK),
    row("memory starting with a dot", REQUESTS + "        memory: .5Gi\n" + LIMITS, None, EXIT_OK),
    row("memory ending with a dot", REQUESTS + "        memory: 5.Mi\n", None, EXIT_OK),
    row(
        "decimal memory over its limit",
        REQUESTS + "        memory: 4.5Gi\n" + LIMITS,
        "limits.memory",
    ),
    row("memory without a unit", REQUESTS + "        memory: 1.5\n", "requests.memory"),
    row("memory in lowercase gi", REQUESTS + "        memory: 1.5gi\n", "requests.memory"),
    row("memory with two dots", REQUESTS + "        memory: 1.5.5Gi\n", "requests.memory"),
    row("zero memory", REQUESTS + "        memory: 0.0Mi\n", "requests.memory"),
    row("memory unit only", REQUESTS + "        memory: Gi\n", "requests.memory"),
]
