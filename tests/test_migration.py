"""Moving from ingress-nginx to Traefik in three `pulumi up`s (ingress.migration): what each phase
declares under the mocks, what the real charts render from it, and what the preview's diff
shows between phases."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from configuration.ingress import KEEP_FLOATING_IP_ANNOTATION
from tests.helpers import (
    INGRESS,
    NGINX_RELEASE,
    RELEASE,
    SERVICE,
    TRAEFIK_RELEASE,
    by_kind,
    needs_helm,
    refused,
    rendered,
    run_ok,
    validate_strictly,
)
from tools.preview.command import document
from tools.preview.diff import compare
from tools.preview.highlights import highlights
from tools.preview.mocks import LOAD_BALANCER_IP, SIDE_BY_SIDE_IP
from tools.preview.recorded import ProgramRun, plain

ADDRESS = (
    "51.210.1.10"  # the floating IP the stack keeps across the cut-over (public: refused else)
)
KEPT = {"keepFloatingIp": True, "loadBalancerIp": ADDRESS}


@cache
def phase(migration: str, controller: str = "traefik", **ingress: Any) -> ProgramRun:
    return run_ok(ingress={"controller": controller, "migration": migration, **ingress})


def values(run: ProgramRun, release: str) -> dict[str, Any]:
    return plain(run.one(RELEASE, release).inputs["values"])


def services(run: ProgramRun, release: str) -> dict[str, dict[str, Any]]:
    objects = rendered(run, release, include_crds=False)
    return {o["metadata"]["name"]: o for o in by_kind(objects, "Service")}


def arguments(run: ProgramRun, release: str) -> list[str]:
    [deployment] = by_kind(rendered(run, release, include_crds=False), "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container["args"]


# --- side by side ----------------------------------------------------------------------------


def test_side_by_side_adds_traefik_and_leaves_ingress_nginx_as_it_was() -> None:
    before, during = phase("none", "ingress-nginx"), phase("side-by-side")
    assert {r.name for r in during.of_type(RELEASE)} == {NGINX_RELEASE, TRAEFIK_RELEASE}
    # Not one input of ingress-nginx's release changes: entering the phase is only additions.
    assert during.one(RELEASE, NGINX_RELEASE).inputs == before.one(RELEASE, NGINX_RELEASE).inputs
    namespaces = {r.inputs["namespace"] for r in during.of_type(RELEASE)}
    assert namespaces == {"ingress-nginx", "traefik"}
    diff = compare(document(before), document(during), "none", "side-by-side")
    actions = {c.label: c.action for c in diff.changes if c.section == "resources"}
    assert set(actions.values()) == {"add"}, actions
    assert f"{RELEASE} {TRAEFIK_RELEASE}" in actions


def test_side_by_side_traefik_has_its_own_address_and_leaves_the_status_to_ingress_nginx() -> None:
    run = phase("side-by-side", **KEPT)
    traefik = values(run, TRAEFIK_RELEASE)
    assert traefik["providers"]["kubernetesIngressNGINX"]["publishService"] == {"enabled": False}
    assert run.outputs["servedBy"] == "ingress-nginx"
    assert run.outputs["loadBalancerAddress"] == LOAD_BALANCER_IP
    assert run.outputs["migrationTestAddress"] == SIDE_BY_SIDE_IP
    assert run.outputs["url"] == f"http://{LOAD_BALANCER_IP}"
    # The address Traefik is tested at is read from the Service the chart renders for it.
    lookup = run.one(SERVICE, "ingress-traefik-controller-service")
    assert lookup.id == "traefik/traefik-side-by-side"


@needs_helm
def test_side_by_side_the_kept_address_stays_on_ingress_nginx_s_service() -> None:
    run = phase("side-by-side", **KEPT)
    traefik = services(run, TRAEFIK_RELEASE)
    # One load balancer Service for Traefik, the side-by-side one, without the address.
    assert list(traefik) == ["traefik-side-by-side"]
    test = traefik["traefik-side-by-side"]
    assert test["spec"]["type"] == "LoadBalancer" and "loadBalancerIP" not in test["spec"]
    assert KEEP_FLOATING_IP_ANNOTATION not in (test["metadata"]["annotations"] or {})
    assert {p["name"] for p in test["spec"]["ports"]} == {"web", "websecure"}
    nginx = services(run, NGINX_RELEASE)["ingress-nginx-controller"]
    assert nginx["spec"]["loadBalancerIP"] == ADDRESS
    assert nginx["metadata"]["annotations"][KEEP_FLOATING_IP_ANNOTATION] == "true"
    assert not any("publishservice" in a for a in arguments(run, TRAEFIK_RELEASE))
    for obj in rendered(run, TRAEFIK_RELEASE, include_crds=False):
        validate_strictly(obj, "1.34")


# --- the cut-over ----------------------------------------------------------------------------


@needs_helm
def test_cut_over_moves_the_address_ingress_nginx_s_service_lets_go_to_traefik() -> None:
    run = phase("cut-over", **KEPT)
    # ingress-nginx runs on without a load balancer and never writes the Ingress status.
    assert "ingress-nginx-controller" not in services(run, NGINX_RELEASE)
    nginx_arguments = arguments(run, NGINX_RELEASE)
    assert "--update-status=false" in nginx_arguments
    assert not any(a.startswith("--publish-service") for a in nginx_arguments)
    traefik = services(run, TRAEFIK_RELEASE)["traefik"]
    assert traefik["spec"]["loadBalancerIP"] == ADDRESS
    assert traefik["metadata"]["annotations"][KEEP_FLOATING_IP_ANNOTATION] == "true"
    assert any("--providers.kubernetesingressnginx.publishservice=" in a for a in arguments(
        run, TRAEFIK_RELEASE
    ))  # fmt: skip
    # Helm upgrades ingress-nginx (its Service goes, the IP is kept) before Traefik's new
    # Service asks for the IP.
    nginx_release = run.one(RELEASE, NGINX_RELEASE)
    assert nginx_release.urn in run.one(RELEASE, TRAEFIK_RELEASE).dependencies
    assert run.outputs["servedBy"] == "traefik" and "migrationTestAddress" not in run.outputs


@needs_helm
def test_cut_over_by_dns_keeps_ingress_nginx_answering_until_the_record_has_moved() -> None:
    run = phase("cut-over")
    assert "ingress-nginx-controller" in services(run, NGINX_RELEASE)
    assert "--update-status=false" in arguments(run, NGINX_RELEASE)
    assert run.one(RELEASE, NGINX_RELEASE).urn not in run.one(RELEASE, TRAEFIK_RELEASE).dependencies
    assert run.outputs["servedBy"] == "traefik"


def test_the_ingress_waits_for_both_controllers_so_a_destroy_removes_it_first() -> None:
    for migration in ("side-by-side", "cut-over"):
        run = phase(migration)
        ingress = run.one(INGRESS)
        for release in (NGINX_RELEASE, TRAEFIK_RELEASE):
            assert run.one(RELEASE, release).urn in ingress.dependencies, (migration, release)


def test_both_releases_go_before_the_nodes_on_a_destroy() -> None:
    run = phase("cut-over")
    pools = {p.urn for p in run.of_type("ovh:CloudProject/kubeNodePool:KubeNodePool")}
    provider = run.one("pulumi:providers:kubernetes")
    assert pools <= set(provider.dependencies)
    for release in (NGINX_RELEASE, TRAEFIK_RELEASE):
        assert run.one(RELEASE, release).provider_urn == provider.urn


# --- finishing, and the names the state keeps ------------------------------------------------


def test_finishing_removes_ingress_nginx_and_changes_nothing_of_traefik() -> None:
    diff = compare(document(phase("cut-over")), document(phase("none")), "cut-over", "none")
    changed = {c.label: c.action for c in diff.changes if c.section == "resources"}
    assert changed[f"{RELEASE} {NGINX_RELEASE}"] == "remove"
    assert set(changed.values()) == {"remove"}, changed
    assert "kubernetes:networking.k8s.io/v1:IngressClass ingress-ingress-class" not in changed


def test_traefik_without_a_migration_takes_over_the_names_it_had_before_migrations() -> None:
    run = phase("none")
    aliases = {r.name: [a.rsplit("::", 1)[1] for a in r.aliases] for r in run.resources}
    assert "ingress" in aliases["ingress-traefik"]
    assert "ingress-release" in aliases[TRAEFIK_RELEASE]
    assert "ingress-namespace" in aliases["ingress-traefik-namespace"]
    # During a migration ingress-nginx holds those names: no alias may take them.
    during = phase("side-by-side")
    assert not any(
        a.rsplit("::", 1)[1].startswith("ingress-release")
        for r in during.resources
        for a in r.aliases
    )


# --- what a migration refuses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ingress", "said"),
    [
        (
            {"migration": "side-by-side"},
            "sticky-sessions:ingress.migration: a migration keeps ingress-nginx and moves to "
            "traefik: it needs controller traefik",
        ),
        (
            {"controller": "traefik", "migration": "cut-over", "enabled": False},
            "sticky-sessions:ingress.migration: the stack that installs the controllers runs",
        ),
        (
            {"controller": "traefik", "migration": "cut-over", "loadBalancerIp": ADDRESS},
            "sticky-sessions:ingress.keepFloatingIp: during a migration, loadBalancerIp is the "
            "address that moves",
        ),
        (
            {"controller": "traefik", "migration": "halfway"},
            "sticky-sessions:ingress.migration",
        ),
    ],
    ids=["ingress-nginx target", "ingress off", "address not kept", "unknown phase"],
)
def test_a_migration_that_cannot_work_is_refused_naming_the_key(ingress: dict, said: str) -> None:
    message = refused({"sticky-sessions:ingress": ingress})
    assert said in message, message


def test_what_ingress_nginx_cannot_do_is_refused_while_it_still_runs() -> None:
    https = {
        "sticky-sessions:app.host": "sticky.example.com",
        "sticky-sessions:tls": {"enabled": True, "email": "ops@example.com"},
        "sticky-sessions:affinity": {"secure": False, "insecureWithTls": True},
    }
    traefik = {"sticky-sessions:ingress.controller": "traefik"}
    assert run_ok(https | traefik).error is None  # Traefik alone honours it
    for migration in ("side-by-side", "cut-over"):
        message = refused(https | traefik | {"sticky-sessions:ingress.migration": migration})
        assert "sticky-sessions:affinity.secure: false while the stack serves HTTPS" in message
        assert "under ingress-nginx" in message


def test_what_traefik_does_not_honour_is_said_from_the_side_by_side_phase() -> None:
    warned = phase("side-by-side").warnings()
    assert any("sticky-sessions:affinity.mode is balanced, but Traefik" in w for w in warned)


def test_a_skipped_cut_over_shows_in_the_diff_as_traefik_changing_while_nginx_goes() -> None:
    skipped = compare(document(phase("side-by-side")), document(phase("none")), "s", "n")
    changed = {c.label: c.action for c in skipped.changes if c.section == "resources"}
    assert changed[f"{RELEASE} {NGINX_RELEASE}"] == "remove"
    assert changed[f"{RELEASE} {TRAEFIK_RELEASE}"] == "update"


@needs_helm
@pytest.mark.parametrize("migration", ["side-by-side", "cut-over"])
def test_prod_passes_the_policy_pack_in_every_phase(migration: str) -> None:
    from tests.test_charts import policy_violations
    from tests.test_policy import check_resource, check_stack, mandatory

    run = run_ok(
        {
            "sticky-sessions:ingress.controller": "traefik",
            "sticky-sessions:ingress.migration": migration,
        },
        stack="prod",
    )
    assert mandatory(check_stack(run)) == []
    for resource in run.resources:
        assert check_resource(resource) == [], resource.name
    for release in run.of_type(RELEASE):
        for obj in rendered(run, release.name):
            assert policy_violations(obj) == [], f"{obj['kind']} {obj['metadata']['name']}"


@needs_helm
def test_traefik_s_side_by_side_service_gets_the_proxy_protocol_of_the_load_balancer() -> None:
    run = phase("side-by-side", proxyProtocol=True, proxyProtocolTrustedCidrs=("10.0.0.0/16",))
    [test] = services(run, TRAEFIK_RELEASE).values()
    assert test["metadata"]["annotations"]["loadbalancer.openstack.org/proxy-protocol"] == "true"
    assert "--entryPoints.web.proxyProtocol.trustedIPs=10.0.0.0/16" in arguments(
        run, TRAEFIK_RELEASE
    )


def test_the_dns_record_follows_the_serving_controller_through_the_phases() -> None:
    dns = {"app.host": "sticky.example.com", "dns.zone": "example.com"}
    overrides = {f"sticky-sessions:{key}": value for key, value in dns.items()}
    for migration, reads in (
        ("side-by-side", "ingress-controller-service"),
        ("cut-over", "ingress-traefik-controller-service"),
    ):
        run = run_ok(
            overrides
            | {
                "sticky-sessions:ingress.controller": "traefik",
                "sticky-sessions:ingress.migration": migration,
            }
        )
        record = run.one("ovh:Domain/zoneRecord:ZoneRecord")
        assert run.one(SERVICE, reads).urn in record.dependencies, migration
        assert record.inputs["target"] == LOAD_BALANCER_IP  # never the side-by-side address
        assert run.outputs["dnsRecord"].endswith(f"IN A {LOAD_BALANCER_IP}")


def test_the_preview_says_what_each_release_does_in_the_phase() -> None:
    def said(run: ProgramRun, release: str) -> list[str]:
        return highlights(run.one(RELEASE, release))

    side_by_side, cut_over = phase("side-by-side"), phase("cut-over", **KEPT)
    assert (
        "Ingress status: not written (tested side by side at Service traefik-side-by-side)"
        in said(side_by_side, TRAEFIK_RELEASE)
    )
    assert not any("Ingress status" in line for line in said(side_by_side, NGINX_RELEASE))
    assert said(cut_over, NGINX_RELEASE)[-2:] == [
        "Ingress status: not written (stands by after the cut-over)",
        "load balancer Service: none (its address went to Traefik)",
    ]
    assert not any("Ingress status" in line for line in said(cut_over, TRAEFIK_RELEASE))
    assert "load balancer Service" not in " ".join(said(phase("cut-over"), NGINX_RELEASE))
