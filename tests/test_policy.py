"""The policy pack: every rule passes on what the program declares and fails on a broken copy."""

import copy
import dataclasses
import re
from collections.abc import Callable
from typing import get_args

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from configuration import base, sections
from policy import rules
from tests.helpers import DEPLOYMENT, INGRESS, RELEASE, run_ok
from tools.preview.mocks import PROJECT_DIR
from tools.preview.recorded import ProgramRun, Registration, plain

Violations = list[tuple[str, str]]  # (policy name, message)


def _options(resource: Registration) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent or None,
    )


def _args(resource: Registration, props: dict | None = None) -> ResourceValidationArgs:
    """What the engine hands a resource policy, with the unknown-checking proxy it uses."""
    inputs = plain(resource.inputs) if props is None else props
    return ResourceValidationArgs(
        resource.type,
        unknown_checking_proxy(inputs),
        resource.urn,
        resource.name,
        _options(resource),
        None,
    )


def check_resource(resource: Registration, props: dict | None = None) -> Violations:
    found: Violations = []
    for policy in rules.POLICIES:
        if isinstance(policy, ResourceValidationPolicy):
            policy.validate(
                _args(resource, props), lambda m, _urn, p=policy: found.append((p.name, m))
            )
    return found


def check_stack(run: ProgramRun, protect: bool | None = None) -> Violations:
    resources = [
        PolicyResource(
            r.type,
            plain(r.inputs),
            r.urn,
            r.name,
            _options(r)
            if protect is None
            else PolicyResourceOptions(
                protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None
            ),
            None,
            None,
            [],
            {},
        )
        for r in run.resources
    ]
    found: Violations = []
    for policy in rules.POLICIES:
        if isinstance(policy, StackValidationPolicy):
            policy.validate(
                StackValidationArgs(resources), lambda m, _u, p=policy: found.append((p.name, m))
            )
    return found


def mandatory(violations: Violations) -> Violations:
    levels = {p.name: p.enforcement_level for p in rules.POLICIES}
    return [v for v in violations if levels[v[0]] == EnforcementLevel.MANDATORY]


def test_the_shipped_stacks_pass_every_mandatory_policy(stack_run: ProgramRun) -> None:
    for resource in stack_run.resources:
        assert check_resource(resource) == [], resource.name
    assert mandatory(check_stack(stack_run)) == []


def test_dev_gets_only_the_advisory_about_its_unprotected_cluster(dev: ProgramRun) -> None:
    assert [name for name, _ in check_stack(dev)] == ["cluster-protected"]


def test_a_prod_ingress_without_tls_is_refused() -> None:
    # prod without its host and TLS: the prod stack file's values, HTTPS taken out.
    plain_prod = run_ok(
        {"sticky-sessions:tls": {}, "sticky-sessions:dns": {}, "sticky-sessions:app": {}},
        stack="prod",
    )
    assert [name for name, _ in mandatory(check_stack(plain_prod))] == ["prod-ingress-tls"]


def test_an_unprotected_prod_cluster_is_refused(prod: ProgramRun) -> None:
    [(name, message)] = check_stack(prod, protect=False)
    assert name == "prod-cluster-protected"
    assert "sticky-sessions:cluster.protect" in message


API_ACCESS = "ovh:CloudProject/kubeIpRestrictions:KubeIpRestrictions"


def test_a_prod_api_open_to_everyone_is_refused() -> None:
    open_prod = run_ok({"sticky-sessions:cluster.apiAllowedCidrs": ["0.0.0.0/0"]}, stack="prod")
    [(name, message)] = mandatory(check_stack(open_prod))
    assert name == "prod-api-restricted"
    assert "lets everyone in (0.0.0.0/0)" in message


def test_a_prod_cluster_without_api_restrictions_is_refused(prod: ProgramRun) -> None:
    # The config refuses it first; the pack holds for a program that would not.
    unrestricted = dataclasses.replace(
        prod, resources=[r for r in prod.resources if r.type != API_ACCESS]
    )
    [(name, message)] = mandatory(check_stack(unrestricted))
    assert name == "prod-api-restricted"
    assert "sticky-sessions:cluster.apiAllowedCidrs" in message


def test_an_open_api_outside_production_is_not_a_policy_matter(dev: ProgramRun) -> None:
    assert "prod-api-restricted" not in [name for name, _ in check_stack(dev)]


def _broken(run: ProgramRun, type_: str, change: Callable[[dict], None]) -> Violations:
    resource = run.one(type_)
    props = copy.deepcopy(plain(resource.inputs))
    change(props)
    return check_resource(resource, props)


def _container(props: dict) -> dict:
    return props["spec"]["template"]["spec"]["containers"][0]


ANNOTATIONS = ("metadata", "annotations")


def _annotate(name: str, value: str) -> Callable[[dict], None]:
    return lambda props: props["metadata"]["annotations"].__setitem__(rules.NGINX + name, value)


BROKEN = [
    (
        "image latest",
        DEPLOYMENT,
        lambda p: _container(p).update(image="ovhplatform/what-is-my-pod:latest"),
        "pinned-images",
    ),
    (
        "image untagged",
        DEPLOYMENT,
        lambda p: _container(p).update(image="ovhplatform/what-is-my-pod"),
        "pinned-images",
    ),
    (
        "no memory limit",
        DEPLOYMENT,
        lambda p: _container(p)["resources"].pop("limits"),
        "container-resources",
    ),
    ("no requests", DEPLOYMENT, lambda p: _container(p).pop("resources"), "container-resources"),
    (
        "root allowed",
        DEPLOYMENT,
        lambda p: p["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot"),
        "non-root-containers",
    ),
    (
        "escalation",
        DEPLOYMENT,
        lambda p: _container(p)["securityContext"].update(allowPrivilegeEscalation=True),
        "non-root-containers",
    ),
    ("no class name", INGRESS, lambda p: p["spec"].pop("ingressClassName"), "ingress-class-name"),
    (
        "deprecated class",
        INGRESS,
        lambda p: p["metadata"]["annotations"].update({"kubernetes.io/ingress.class": "nginx"}),
        "ingress-class-name",
    ),
    ("affinity ip", INGRESS, _annotate("affinity", "ip"), "cookie-affinity-annotations"),
    ("mode sticky", INGRESS, _annotate("affinity-mode", "sticky"), "cookie-affinity-annotations"),
    (
        "cookie name space",
        INGRESS,
        _annotate("session-cookie-name", "a b"),
        "cookie-affinity-annotations",
    ),
    (
        "expires negative",
        INGRESS,
        _annotate("session-cookie-expires", "-1"),
        "cookie-affinity-annotations",
    ),
    (
        "max-age text",
        INGRESS,
        _annotate("session-cookie-max-age", "2d"),
        "cookie-affinity-annotations",
    ),
    (
        "samesite lowercase",
        INGRESS,
        _annotate("session-cookie-samesite", "lax"),
        "cookie-affinity-annotations",
    ),
    (
        "samesite None insecure",
        INGRESS,
        _annotate("session-cookie-samesite", "None"),
        "cookie-affinity-annotations",
    ),
    (
        "Secure cookie without TLS",
        INGRESS,
        _annotate("session-cookie-secure", "true"),
        "secure-cookie-needs-tls",
    ),
    ("release unnamed", RELEASE, lambda p: p.pop("name"), "helm-release-pinned"),
    ("chart range", RELEASE, lambda p: p.update(version="^4.15"), "helm-release-pinned"),
    ("chart unpinned", RELEASE, lambda p: p.pop("version"), "helm-release-pinned"),
]


@pytest.mark.parametrize(
    ("type_", "change", "policy"), [r[1:] for r in BROKEN], ids=[r[0] for r in BROKEN]
)
def test_a_broken_copy_of_a_declared_object_is_refused(
    dev: ProgramRun, type_: str, change: Callable[[dict], None], policy: str
) -> None:
    assert [name for name, _ in _broken(dev, type_, change)] == [policy]


def test_unknown_values_during_preview_are_skipped_not_reported(dev: ProgramRun) -> None:
    def unknown_image_and_no_limit(props: dict) -> None:
        _container(props)["image"] = UNKNOWN_STRING_VALUE
        _container(props)["resources"].pop("limits")

    # The unknown image is skipped; the rest of the container is still checked.
    assert [name for name, _ in _broken(dev, DEPLOYMENT, unknown_image_and_no_limit)] == [
        "container-resources"
    ]
    assert _broken(dev, INGRESS, _annotate("session-cookie-name", UNKNOWN_STRING_VALUE)) == []
    assert _broken(dev, RELEASE, lambda p: p.update(version=UNKNOWN_STRING_VALUE)) == []


def test_policy_and_config_accept_the_same_values() -> None:
    # Two deployables (the policy pack has its own venv): a test keeps their rules equal.
    assert get_args(sections.SameSite) == rules.SAME_SITE_VALUES
    assert rules.COOKIE_NAME.pattern == sections.COOKIE_NAME
    assert rules.EXACT_VERSION.pattern == base.EXACT_VERSION
    assert set(rules.AFFINITY_MODES) == set(
        sections.AffinityConfig.model_fields["mode"].annotation.__args__
    )
    for image in ("a:1", "a", "a:latest", "reg:5000/a", "reg:5000/a:2", "a@sha256:" + "0" * 64):
        assert (rules.image_problem(image) is None) == _config_accepts(image), image


def _config_accepts(image: str) -> bool:
    try:
        sections.AppConfig(image=image)
    except Exception:
        return False
    return True


def test_the_pack_runs_on_the_programs_pulumi_version() -> None:
    def pins(path: str) -> dict[str, str]:
        lines = (PROJECT_DIR / path).read_text().splitlines()
        return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))

    pack = pins("policy/requirements.txt")
    assert pack["pulumi"] == pins("requirements.txt")["pulumi"]
    assert pack["pulumi-policy"] == pins("requirements-dev.txt")["pulumi-policy"]


def test_the_docs_list_every_policy_with_its_enforcement() -> None:
    readme = (PROJECT_DIR / "docs" / "policy.md").read_text()
    documented = dict(re.findall(r"^\| `([a-z-]+)` \| (mandatory|advisory) \|", readme, re.M))
    assert documented == {p.name: p.enforcement_level.value for p in rules.POLICIES}
