"""The whole program on the real stack files: its outputs and every object it declares."""

import jsonschema
import kubernetes_validate
import pytest

from configuration.cluster import SUPPORTED_KUBERNETES_VERSIONS
from tests.helpers import (
    CONTROLLER_NAMES,
    controller_release,
    run_ok,
    validate_kubernetes,
    validate_strictly,
)
from tools.preview.mocks import LOAD_BALANCER_IP
from tools.preview.recorded import ProgramRun, kubernetes_objects, manifest

OUTPUTS = {
    "url",
    "loadBalancerAddress",
    "kubeconfig",
    "clusterId",
    "clusterName",
    "region",
    "kubernetesVersion",
    "ingressClassName",
    "appNamespace",
    "cookieName",
    "servedBy",
    "migration",
}


HOST_OUTPUTS = {"host", "dnsRecord"}  # with app.host: prod has one, dev does not
API_OUTPUTS = {"apiAllowedCidrs"}  # with cluster.apiAllowedCidrs: prod has them, dev does not


def test_outputs_are_the_documented_contract(stack_run: ProgramRun) -> None:
    prod = stack_run.config.stack == "prod"
    expected = OUTPUTS | (HOST_OUTPUTS | API_OUTPUTS if prod else set())
    assert set(stack_run.outputs) == expected
    assert stack_run.secret_outputs == {"kubeconfig"}


def test_outputs_hold_the_stacks_values(dev: ProgramRun) -> None:
    outputs = dev.outputs
    assert outputs["url"] == f"http://{LOAD_BALANCER_IP}"
    assert outputs["loadBalancerAddress"] == LOAD_BALANCER_IP
    assert outputs["clusterName"] == "sticky-dev"
    assert outputs["clusterId"] == dev.one("ovh:CloudProject/kube:Kube").id
    assert outputs["region"] == "GRA9"
    assert outputs["kubernetesVersion"] == "1.34"
    assert outputs["ingressClassName"] == "nginx"
    assert outputs["appNamespace"] == "default"
    assert outputs["cookieName"] == "stickounet"


def test_prod_cluster_is_named_after_its_stack(prod: ProgramRun) -> None:
    assert prod.outputs["clusterName"] == "sticky-prod"


def test_components_parent_their_children(stack_run: ProgramRun) -> None:
    components = {r.urn: r for r in stack_run.resources if r.type.startswith("sticky-sessions:")}
    assert {r.type for r in components.values()} >= {
        "sticky-sessions:index:OvhCluster",
        "sticky-sessions:index:IngressController",
        "sticky-sessions:index:StickyApp",
    }
    for resource in stack_run.resources:
        if resource.urn not in components:
            assert resource.parent in components, resource.name


def _objects(run: ProgramRun) -> list[dict]:
    objects = [manifest(r) for r in kubernetes_objects(run)]
    assert {o["kind"] for o in objects} >= {"Namespace", "Deployment", "Service", "Ingress"}
    return objects


def test_every_object_validates_strictly_against_the_clusters_openapi_schema(
    stack_run: ProgramRun,
) -> None:
    version = stack_run.outputs["kubernetesVersion"]
    for obj in _objects(stack_run):
        validate_strictly(obj, version)


@pytest.mark.parametrize("controller", CONTROLLER_NAMES)
@pytest.mark.parametrize("version", SUPPORTED_KUBERNETES_VERSIONS)
def test_objects_validate_on_every_supported_version(version: str, controller: str) -> None:
    run = run_ok(
        cluster={"version": version},
        ingress={"controller": controller},
        app={"namespace": "sticky", "host": "sticky.example.com", "path": "/shop"},
        affinity={"sameSite": "Strict", "path": "/shop"},
    )
    for obj in _objects(run):
        validate_strictly(obj, version)


def test_crd_validation_catches_a_misspelt_field(prod: ProgramRun) -> None:
    issuer = manifest(prod.one("kubernetes:cert-manager.io/v1:ClusterIssuer"))
    validate_strictly(issuer, "1.34")
    issuer["spec"]["acme"]["privateKeySecretRef"]["nmae"] = "x"
    with pytest.raises(jsonschema.ValidationError, match="nmae"):
        validate_strictly(issuer, "1.34")


def test_schema_validation_catches_a_misspelt_field(dev: ProgramRun) -> None:
    deployment = manifest(dev.one("kubernetes:apps/v1:Deployment"))
    deployment["spec"]["replica"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.34", strict=True)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_kubernetes(deployment, "1.34")  # the cached validators judge alike


def test_the_cached_validators_accept_what_the_library_accepts(prod: ProgramRun) -> None:
    for obj in map(manifest, kubernetes_objects(prod)):
        if obj["kind"] == "ClusterIssuer":
            continue
        for version in ("1.31", "1.35"):
            kubernetes_validate.validate(obj, version, strict=True)
            validate_kubernetes(obj, version)


def test_every_fixed_name_object_is_deleted_before_it_is_replaced(stack_run: ProgramRun) -> None:
    # pulumi-kubernetes 4.29+ refuses to create an object whose name already exists.
    for resource in kubernetes_objects(stack_run):
        assert resource.delete_before_replace, resource.name


def _needs(run: ProgramRun, resource: str) -> set[str]:
    """Names of every resource `resource` waits for, directly or not (dependencies and
    providers): `pulumi destroy` deletes a resource before all of these."""
    by_urn = {r.urn: r for r in run.resources}
    by_name = {r.name: r for r in run.resources}
    seen: set[str] = set()
    todo = [by_name[resource].urn]
    while todo:
        current = by_urn[todo.pop()]
        for urn in [*current.dependencies, current.provider_urn]:
            if urn in by_urn and urn not in seen:
                seen.add(urn)
                todo.append(urn)
    return {by_urn[urn].name for urn in seen}


def test_destroy_releases_the_load_balancer_before_the_nodes_and_the_cluster(
    stack_run: ProgramRun,
) -> None:
    # The release's Service owns the OVHcloud load balancer: it goes, and is waited for, first.
    pools = {pool.name for pool in stack_run.of_type("ovh:CloudProject/kubeNodePool:KubeNodePool")}
    assert pools and pools | {"cluster-kube"} <= _needs(
        stack_run, controller_release(stack_run).name
    )
    assert not controller_release(stack_run).inputs.get("skipAwait")
