"""The whole program on the real stack files: its outputs and every object it declares."""

import kubernetes_validate
import pytest

from components.config_cluster import SUPPORTED_KUBERNETES_VERSIONS
from tests.helpers import CONTROLLER_NAMES, run_ok
from tools.offline import LOAD_BALANCER_IP, ProgramRun, kubernetes_objects, manifest

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
}


def test_outputs_are_the_documented_contract(stack_run: ProgramRun) -> None:
    assert set(stack_run.outputs) == OUTPUTS
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
    assert {r.type for r in components.values()} == {
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
        kubernetes_validate.validate(obj, version, strict=True)


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
        kubernetes_validate.validate(obj, version, strict=True)


def test_schema_validation_catches_a_misspelt_field(dev: ProgramRun) -> None:
    deployment = manifest(dev.one("kubernetes:apps/v1:Deployment"))
    deployment["spec"]["replica"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.34", strict=True)


def test_every_fixed_name_object_is_deleted_before_it_is_replaced(stack_run: ProgramRun) -> None:
    # pulumi-kubernetes 4.29+ refuses to create an object whose name already exists.
    for resource in kubernetes_objects(stack_run):
        assert resource.delete_before_replace, resource.name


def _destroy_order(run: ProgramRun) -> list[str]:
    """Names in the order `pulumi destroy` deletes them: a resource before what it depends on
    (its dependencies and its provider)."""
    by_urn = {r.urn: r for r in run.resources}
    needs = {
        r.urn: {d for d in [*r.dependencies, r.provider_urn] if d in by_urn} for r in run.resources
    }
    created: list[str] = []
    while len(created) < len(needs):
        ready = [u for u in needs if u not in created and needs[u] <= set(created)]
        assert ready, "a dependency cycle"
        created += sorted(ready)
    return [by_urn[u].name for u in reversed(created)]


def test_destroy_releases_the_load_balancer_before_the_nodes_and_the_cluster(
    stack_run: ProgramRun,
) -> None:
    order = _destroy_order(stack_run)
    release = order.index("ingress-release")  # its Service owns the OVHcloud load balancer
    assert release < order.index("cluster-node-pool") < order.index("cluster-kube")
    assert not stack_run.one("kubernetes:helm.sh/v3:Release").inputs.get("skipAwait")
