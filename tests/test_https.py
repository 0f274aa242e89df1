"""HTTPS on a real hostname: cert-manager, the Let's Encrypt ClusterIssuer, the TLS Ingress, the
DNS record, the Secure cookie, and what is refused before anything is declared."""

import json

import jsonschema
import pytest

from tests.helpers import (
    CONTROLLER_NAMES,
    DATA,
    INGRESS,
    RELEASE,
    controller_service,
    refused,
    run_ok,
    validate_strictly,
)
from tools.preview.command import render_text
from tools.preview.mocks import LOAD_BALANCER_IP
from tools.preview.recorded import ProgramRun, manifest, plain

ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
RECORD = "ovh:Domain/zoneRecord:ZoneRecord"
HTTPS = {
    "sticky-sessions:app.host": "sticky.example.com",
    "sticky-sessions:tls": {"enabled": True, "email": "ops@example.com"},
    "sticky-sessions:dns.zone": "example.com",
}


@pytest.fixture(scope="module", params=CONTROLLER_NAMES)
def https(request: pytest.FixtureRequest) -> ProgramRun:
    return run_ok(HTTPS | {"sticky-sessions:ingress.controller": request.param})


def test_cert_manager_is_a_pinned_release_with_its_crds(https: ProgramRun) -> None:
    release = https.one(RELEASE, "cert-manager-release").inputs
    assert (release["name"], release["chart"], release["version"]) == (
        "cert-manager",
        "cert-manager",
        "v1.21.1",
    )
    assert release["repositoryOpts"] == {"repo": "https://charts.jetstack.io"}
    assert release["namespace"] == "cert-manager"
    values = plain(release["values"])
    assert values["crds"] == {"enabled": True, "keep": True}
    schema = json.loads((DATA / "cert-manager-v1.21.1/values.schema.json").read_text())
    jsonschema.validate(values, schema)


def test_every_container_the_chart_runs_has_requests_and_a_memory_limit(https: ProgramRun) -> None:
    values = plain(https.one(RELEASE, "cert-manager-release").inputs["values"])
    for part in (values, values["webhook"], values["cainjector"], values["startupapicheck"]):
        assert set(part["resources"]["requests"]) == {"cpu", "memory"}
        assert set(part["resources"]["limits"]) == {"memory"}


def test_the_chart_schema_catches_a_misspelt_value() -> None:
    schema = json.loads((DATA / "cert-manager-v1.21.1/values.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"crds": {"enable": True}}, schema)


def test_the_cluster_issuer_solves_http01_through_the_stacks_class_after_the_release(
    https: ProgramRun,
) -> None:
    issuer = https.one(ISSUER)
    body = manifest(issuer)
    validate_strictly(body, "1.34")
    assert body["metadata"]["name"] == "letsencrypt"
    acme = body["spec"]["acme"]
    assert acme["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert acme["email"] == "ops@example.com"
    assert acme["privateKeySecretRef"] == {"name": "letsencrypt-account-key"}
    [solver] = acme["solvers"]
    assert solver["http01"]["ingress"]["ingressClassName"] == "nginx"
    assert https.one(RELEASE, "cert-manager-release").urn in issuer.dependencies  # its CRD
    assert issuer.delete_before_replace


def test_the_ingress_waits_for_cert_manager_and_its_issuer(https: ProgramRun) -> None:
    # A destroy then removes the Ingress, and the Challenge its certificate may have open,
    # before cert-manager: no finalizer is left without the controller that clears it.
    dependencies = https.one(INGRESS).dependencies
    assert https.one(RELEASE, "cert-manager-release").urn in dependencies
    assert https.one(ISSUER).urn in dependencies


def test_without_https_the_ingress_waits_for_the_controller_alone(dev: ProgramRun) -> None:
    assert not any("cert-manager" in urn for urn in dev.one(INGRESS).dependencies)


def test_the_ingress_serves_tls_for_the_host_with_the_issuer_and_a_redirect(
    https: ProgramRun,
) -> None:
    ingress = manifest(https.one(INGRESS))
    assert ingress["spec"]["tls"] == [
        {"hosts": ["sticky.example.com"], "secretName": "what-is-my-pod-tls"}
    ]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert annotations["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
    # With TLS the cookie is Secure by default.
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-secure"] == "true"


def test_the_dns_record_points_the_host_at_the_load_balancer(https: ProgramRun) -> None:
    record = https.one(RECORD).inputs
    assert (record["zone"], record["subdomain"], record["fieldtype"]) == (
        "example.com",
        "sticky",
        "A",
    )
    assert record["target"] == LOAD_BALANCER_IP and record["ttl"] == 300
    # The address is read from the controller's Service: the record waits for it.
    lookup = controller_service(https)
    assert lookup.urn in https.one(RECORD).dependencies


def test_outputs_give_the_https_url_the_host_and_the_record(https: ProgramRun) -> None:
    assert https.outputs["url"] == "https://sticky.example.com"
    assert https.outputs["host"] == "sticky.example.com"
    assert https.outputs["dnsRecord"] == f"sticky.example.com. 300 IN A {LOAD_BALANCER_IP}"
    assert https.outputs["loadBalancerAddress"] == LOAD_BALANCER_IP


def test_without_a_zone_the_record_to_create_by_hand_is_an_output() -> None:
    run = run_ok({k: v for k, v in HTTPS.items() if k != "sticky-sessions:dns.zone"})
    assert not run.of_type(RECORD)
    assert run.outputs["dnsRecord"] == f"sticky.example.com. 300 IN A {LOAD_BALANCER_IP}"


def test_an_existing_cluster_issuer_is_named_not_created() -> None:
    run = run_ok(HTTPS | {"sticky-sessions:tls": {"enabled": True, "issuer": "corp-ca"}})
    assert not run.of_type(ISSUER)
    annotations = manifest(run.one(INGRESS))["metadata"]["annotations"]
    assert annotations["cert-manager.io/cluster-issuer"] == "corp-ca"


def test_an_app_stack_names_the_platforms_issuer_and_installs_nothing() -> None:
    run = run_ok(
        HTTPS
        | {
            "sticky-sessions:cluster": {"mode": "stack", "stack": "acme/sticky-sessions/shared"},
            "sticky-sessions:nodePool": {},
            "sticky-sessions:ingress": {"enabled": False},
        }
    )
    assert not run.of_type(ISSUER)
    assert [r.name for r in run.of_type(RELEASE)] == []
    assert manifest(run.one(INGRESS))["spec"]["tls"][0]["hosts"] == ["sticky.example.com"]


def test_a_plain_http_stack_has_no_tls_and_a_plain_cookie(dev: ProgramRun) -> None:
    ingress = manifest(dev.one(INGRESS))
    assert "tls" not in ingress["spec"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-secure"] == "false"
    assert "cert-manager.io/cluster-issuer" not in annotations
    assert dev.outputs["url"].startswith("http://")


REFUSED = [
    (
        "TLS without a host",
        {"sticky-sessions:tls": {"enabled": True, "email": "a@b.co"}},
        "tls.enabled",
    ),
    (
        "a host outside the zone",
        HTTPS | {"sticky-sessions:app.host": "sticky.example.org"},
        "app.host",
    ),
    ("a zone without a host", {"sticky-sessions:dns.zone": "example.com"}, "dns.zone"),
    (
        "an issuer that is not a name",
        HTTPS | {"sticky-sessions:tls": {"enabled": True, "issuer": "Lets_Encrypt"}},
        "tls.issuer",
    ),
    (
        "ACME without an e-mail",
        HTTPS | {"sticky-sessions:tls": {"enabled": True}},
        "tls.email",
    ),
    ("an e-mail that is not one", HTTPS | {"sticky-sessions:tls.email": "ops"}, "tls.email"),
    ("a TTL under a minute", HTTPS | {"sticky-sessions:dns.ttl": 30}, "dns.ttl"),
    (
        "secure false with TLS",
        HTTPS | {"sticky-sessions:affinity.secure": False},
        "affinity.secure",
    ),
    ("SameSite None without TLS", {"sticky-sessions:affinity.sameSite": "None"}, "sameSite"),
    (
        "a __Host- cookie without TLS",
        {"sticky-sessions:affinity.cookieName": "__Host-route"},
        "cookieName",
    ),
    (
        "a __host- cookie in lower case without TLS",
        {"sticky-sessions:affinity.cookieName": "__host-route"},
        "cookieName",
    ),
    (
        "a __SECURE- cookie in capitals without TLS",
        {"sticky-sessions:affinity.cookieName": "__SECURE-route"},
        "cookieName",
    ),
    (
        "a single-label host with TLS",
        {**HTTPS, "sticky-sessions:app.host": "sticky", "sticky-sessions:dns": {}},
        "app.host",
    ),
    (
        "insecureWithTls without TLS",
        {"sticky-sessions:affinity.insecureWithTls": True},
        "insecureWithTls",
    ),
    ("TLS settings while TLS is off", {"sticky-sessions:tls.email": "a@b.co"}, "tls.email"),
]


@pytest.mark.parametrize(
    ("overrides", "key"), [row[1:] for row in REFUSED], ids=[row[0] for row in REFUSED]
)
def test_what_https_cannot_serve_is_refused_naming_the_key(overrides: dict, key: str) -> None:
    message = refused(overrides)
    assert any(key in line and "Fix:" in line for line in message.splitlines()), message


INSECURE = {"sticky-sessions:affinity": {"secure": False, "insecureWithTls": True}}


def test_secure_false_with_tls_is_kept_when_explicitly_wanted_under_traefik() -> None:
    # Traefik's Ingress NGINX provider takes the annotation as it is (translator.go:
    # `Secure: ptr.Deref(cfg.SessionCookieSecure, false)`), whatever the request's scheme.
    run = run_ok(HTTPS | INSECURE | {"sticky-sessions:ingress.controller": "traefik"})
    annotations = manifest(run.one(INGRESS))["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-secure"] == "false"


def test_secure_false_with_tls_is_refused_under_ingress_nginx_where_it_changes_nothing() -> None:
    message = refused(HTTPS | INSECURE)
    assert "affinity.secure" in message
    assert 'drops session-cookie-secure "false"' in message
    assert "pulumi config rm --path sticky-sessions:affinity.secure && pulumi config rm" in message


def test_https_allows_what_only_https_can_carry() -> None:
    run = run_ok(
        HTTPS | {"sticky-sessions:affinity": {"sameSite": "None", "cookieName": "__Host-route"}}
    )
    annotations = manifest(run.one(INGRESS))["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-samesite"] == "None"
    assert annotations["nginx.ingress.kubernetes.io/session-cookie-name"] == "__Host-route"


def test_the_preview_shows_https_and_the_record_to_create_by_hand() -> None:
    with_zone = render_text(run_ok(HTTPS))
    assert "record: sticky.example.com. 300 IN A" in with_zone
    assert "added beside any record already at that name (the provider does not look)" in with_zone
    assert "tls: sticky.example.com (certificate in Secret what-is-my-pod-tls)" in with_zone
    assert "create this DNS record by hand" not in with_zone
    without = render_text(run_ok({k: v for k, v in HTTPS.items() if "dns" not in k}))
    assert (
        "create this DNS record by hand (no sticky-sessions:dns.zone): "
        f"sticky.example.com. 300 IN A {LOAD_BALANCER_IP}" in without
    )


def test_proxy_protocol_with_https_warns_that_the_certificate_may_never_be_issued() -> None:
    run = run_ok(HTTPS | {"sticky-sessions:ingress.proxyProtocol": True})
    [warning] = [w for w in run.warnings() if "proxyProtocol" in w]
    assert "ingress.proxyProtocol is true with sticky-sessions:tls.enabled" in warning
    assert "broken header" in warning and "ipMode: Proxy" in warning
    assert "tls: sticky.example.com" in render_text(run)  # still declared: a warning, no refusal
    assert not any("proxyProtocol" in w for w in run_ok(HTTPS).warnings())


def test_a_prefixed_cookie_in_any_case_gets_a_fix_without_its_prefix() -> None:
    message = refused({"sticky-sessions:affinity.cookieName": "__HoSt-route"})
    assert "browsers drop a __Host- cookie" in message
    assert "pulumi config set --path sticky-sessions:affinity.cookieName route" in message


def test_a_single_label_host_is_refused_with_a_dotted_fix() -> None:
    message = refused(HTTPS | {"sticky-sessions:app.host": "sticky", "sticky-sessions:dns": {}})
    assert "Let's Encrypt issues no certificate for a single-label name" in message
    assert "pulumi config set --path sticky-sessions:app.host sticky.example.com" in message
