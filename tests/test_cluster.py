"""The OVHcloud cluster, its node pool, and the Kubernetes provider everything else uses."""

import re

import pytest
import yaml

from configuration.cli import PLACEHOLDER_KUBECONFIG, PROJECT_DIR
from tests.helpers import KUBE, KUBERNETES_PROVIDER, NODE_POOL, refused, run_ok
from tools.preview.command import render_text
from tools.preview.mocks import CREATION_KUBECONFIG
from tools.preview.recorded import ProgramRun, kubernetes_objects


def test_cluster_takes_its_settings_from_the_stack(dev: ProgramRun) -> None:
    kube = dev.one(KUBE).inputs
    assert kube["name"] == "sticky-dev"
    assert kube["region"] == "GRA9"
    assert kube["version"] == "1.34"
    assert kube["updatePolicy"] == "MINIMAL_DOWNTIME"
    assert "privateNetworkId" not in kube


NETWORK = "ovh:CloudProject/networkPrivate:NetworkPrivate"
SUBNET = "ovh:CloudProject/networkPrivateSubnet:NetworkPrivateSubnet"
GATEWAY = "ovh:CloudProject/gateway:Gateway"
API_ACCESS = "ovh:CloudProject/kubeIpRestrictions:KubeIpRestrictions"
NETWORK_ID = "0f0e0d0c-0b0a-4909-8807-060504030201"
SUBNET_ID = "1a1b1c1d-2e2f-4a4b-8c8d-9e9f0a0b0c0d"


def test_an_existing_private_network_reaches_the_cluster() -> None:
    run = run_ok(
        network={"mode": "existing", "privateNetworkId": NETWORK_ID, "subnetId": SUBNET_ID}
    )
    kube = run.one(KUBE).inputs
    assert (kube["privateNetworkId"], kube["nodesSubnetId"]) == (NETWORK_ID, SUBNET_ID)
    assert not run.of_type("ovh:CloudProject/networkPrivate:NetworkPrivate")


def test_dev_pool_is_small_and_prod_pool_autoscales(dev: ProgramRun, prod: ProgramRun) -> None:
    small = dev.one(NODE_POOL).inputs
    assert (small["minNodes"], small["desiredNodes"], small["maxNodes"]) == (1, 1, 2)
    assert small["flavorName"] == "b3-8"
    assert small["kubeId"] == dev.one(KUBE).id
    for pool in prod.of_type(NODE_POOL):
        large = pool.inputs
        assert large["autoscale"] is True
        assert large["antiAffinity"] is True
        assert large["minNodes"] < large["maxNodes"]


def test_pool_sizes_default_to_the_desired_count() -> None:
    run = run_ok(nodePool={"desiredNodes": 4})
    pool = run.one(NODE_POOL).inputs
    assert (pool["minNodes"], pool["desiredNodes"], pool["maxNodes"]) == (4, 4, 4)


def test_prod_protects_the_cluster_and_its_network_but_not_the_pools(
    dev: ProgramRun, prod: ProgramRun
) -> None:
    # `protect` blocks a replacement: a protected pool could never take a new flavor or zone.
    protected = [prod.one(KUBE), prod.one(NETWORK), prod.one(SUBNET), prod.one(GATEWAY)]
    assert all(resource.protect for resource in protected)
    assert not any(pool.protect for pool in prod.of_type(NODE_POOL))
    assert not dev.one(KUBE).protect and not dev.one(NODE_POOL).protect


def test_provider_has_a_stable_identity_and_never_drops_state_on_a_refresh(
    stack_run: ProgramRun,
) -> None:
    # deleteUnreachable would drop every object from the state on a refresh with the API down,
    # and a value set here would override PULUMI_K8S_DELETE_UNREACHABLE for a real teardown.
    provider = stack_run.one(KUBERNETES_PROVIDER).inputs
    assert provider["clusterIdentifier"] == stack_run.one(KUBE).id
    assert "deleteUnreachable" not in provider


def test_kubernetes_provider_waits_for_the_node_pool(dev: ProgramRun) -> None:
    provider = dev.one(KUBERNETES_PROVIDER)
    assert dev.one(NODE_POOL).urn in provider.dependencies


def test_every_kubernetes_resource_deploys_through_the_cluster_provider(
    dev: ProgramRun,
) -> None:
    provider_urn = dev.one(KUBERNETES_PROVIDER).urn
    kubernetes = [r for r in dev.resources if r.type.startswith("kubernetes:")]
    assert len(kubernetes) >= len(kubernetes_objects(dev)) + 2  # plus the release and the read
    for resource in kubernetes:
        assert resource.provider_urn == provider_urn, resource.name


def test_kubeconfig_output_is_secret(stack_run: ProgramRun) -> None:
    assert "kubeconfig" in stack_run.secret_outputs


def test_a_secret_cluster_section_stays_secret_in_inputs_and_outputs() -> None:
    # The CLI says which key holds a secret, not which field: every value of it stays secret.
    run = run_ok({"sticky-sessions:cluster.serviceName": {"secure": "v1:c2VjcmV0"}})
    kube, pool = run.one(KUBE).inputs, run.one(NODE_POOL).inputs
    for field in ("serviceName", "name", "region", "version", "updatePolicy"):
        assert kube[field] == "[secret]", field
    assert pool["serviceName"] == "[secret]"
    assert run.secret_outputs == {"kubeconfig", "clusterName", "region", "kubernetesVersion"}


def test_a_plain_cluster_section_is_exported_in_the_clear(dev: ProgramRun) -> None:
    assert dev.one(KUBE).inputs["region"] == "GRA9"
    assert dev.secret_outputs == {"kubeconfig"}


# --- changes that replace, and what they take down ---------------------------------------------


def _pool_name(**pool: object) -> str:
    return run_ok(nodePool={"desiredNodes": 1, "maxNodes": 2} | pool).one(NODE_POOL).inputs["name"]


@pytest.mark.parametrize(
    "change",
    [{"flavor": "b3-16"}, {"antiAffinity": True}, {"monthlyBilled": True}],
    ids=["flavor", "anti-affinity", "monthly billing"],
)
def test_a_setting_that_forces_a_new_pool_gives_it_a_new_name(change: dict) -> None:
    # A new name makes Pulumi create the new pool before it deletes the old one.
    assert _pool_name(**change) != _pool_name()


def test_sizes_update_the_pool_in_place_and_keep_its_name() -> None:
    assert _pool_name(desiredNodes=2) == _pool_name()


def test_pool_names_are_what_ovhcloud_accepts(stack_run: ProgramRun) -> None:
    for pool in stack_run.of_type(NODE_POOL):
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", pool.inputs["name"])


def test_no_pool_is_deleted_before_its_replacement_exists(stack_run: ProgramRun) -> None:
    # The bridge would answer delete-before-replace for a program-set autonamed `name`: only
    # an explicit false, which the engine takes over the provider's answer, orders it.
    for pool in stack_run.of_type(NODE_POOL):
        assert pool.delete_before_replace_defined, pool.name
        assert pool.delete_before_replace is False, pool.name


def test_a_new_nodes_subnet_replaces_the_cluster(stack_run: ProgramRun) -> None:
    # terraform-provider-ovh would otherwise update nothing while the subnet is replaced.
    assert stack_run.one(KUBE).replace_on_changes == ["nodesSubnetId"]


def test_the_autoscaler_owns_desired_nodes_after_creation(
    dev: ProgramRun, prod: ProgramRun
) -> None:
    assert all(pool.ignore_changes == ["desiredNodes"] for pool in prod.of_type(NODE_POOL))
    assert dev.one(NODE_POOL).ignore_changes == []  # dev does not: the config is the truth


def test_every_update_reads_the_autoscaled_size_first() -> None:
    # ignore_changes keeps the program's desiredNodes out of a diff, but the bridge sends the
    # stored value on any update of the pool: the CLI refreshes first on preview, up and destroy.
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    assert project["options"] == {"refresh": "always"}


def test_cluster_and_pools_have_explicit_timeouts(dev: ProgramRun) -> None:
    assert dev.one(KUBE).custom_timeouts["create"] == "60m"
    assert set(dev.one(NODE_POOL).custom_timeouts) == {"create", "update", "delete"}


def test_the_kubeconfig_is_read_afresh_on_every_run(dev: ProgramRun) -> None:
    # The Kube resource keeps its creation kubeconfig; getKube reads the current one.
    [arguments] = [args for token, args in dev.invokes if token.endswith("getKube")]
    assert arguments["kubeId"] == dev.one(KUBE).id
    assert dev.outputs["kubeconfig"] == PLACEHOLDER_KUBECONFIG != CREATION_KUBECONFIG
    provider = dev.one(KUBERNETES_PROVIDER).inputs
    assert provider["kubeconfig"] == "[secret]"
    assert provider["clusterIdentifier"] == dev.one(KUBE).id  # a new kubeconfig replaces nothing


# --- a production topology: Standard plan across three zones --------------------------------


def test_prod_is_a_standard_cluster_with_a_pool_in_each_zone(prod: ProgramRun) -> None:
    kube = prod.one(KUBE).inputs
    assert (kube["region"], kube["plan"]) == ("EU-WEST-PAR", "standard")
    zones = sorted(pool.inputs["availabilityZones"][0] for pool in prod.of_type(NODE_POOL))
    assert zones == ["eu-west-par-a", "eu-west-par-b", "eu-west-par-c"]
    assert all(len(pool.inputs["availabilityZones"]) == 1 for pool in prod.of_type(NODE_POOL))
    names = [pool.inputs["name"] for pool in prod.of_type(NODE_POOL)]
    assert len(set(names)) == 3  # each pool named after its zone


def test_prod_creates_its_network_subnet_and_gateway_before_the_cluster(prod: ProgramRun) -> None:
    network, subnet, gateway = prod.one(NETWORK), prod.one(SUBNET), prod.one(GATEWAY)
    assert network.inputs["regions"] == ["EU-WEST-PAR"]
    assert subnet.inputs["dhcp"] is True and subnet.inputs["noGateway"] is False
    kube = prod.one(KUBE)
    # The Kube takes the network's regional OpenStack id, not its vRack id.
    assert kube.inputs["privateNetworkId"] == gateway.inputs["networkId"]
    assert re.fullmatch(r"[0-9a-f-]{36}", kube.inputs["privateNetworkId"])
    assert kube.inputs["nodesSubnetId"] == subnet.id
    assert gateway.urn in kube.dependencies  # a multi-zone cluster needs its gateway first


def test_dev_stays_a_small_free_cluster_in_one_region(dev: ProgramRun) -> None:
    kube = dev.one(KUBE).inputs
    assert (kube["region"], kube["plan"]) == ("GRA9", "free")
    assert "privateNetworkId" not in kube and not dev.of_type(NETWORK)
    assert "availabilityZones" not in dev.one(NODE_POOL).inputs


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        ({"cluster": {"region": "EU-WEST-PAR"}}, "cluster.plan"),
        ({"cluster": {"region": "EU-WEST-PAR", "plan": "standard"}}, "network.mode"),
        (
            {
                "cluster": {"region": "EU-WEST-PAR", "plan": "standard"},
                "network": {"mode": "create"},
            },
            "nodePool.zones",
        ),
        ({"nodePool": {"zones": ["eu-west-par-a"]}}, "nodePool.zones"),  # GRA9 has one zone
        (
            {
                "cluster": {"region": "EU-WEST-PAR", "plan": "standard"},
                "network": {"mode": "create"},
                "nodePool": {"zones": ["eu-west-par-d"]},
            },
            "nodePool.zones",
        ),
        ({"network": {"mode": "existing", "gatewayId": "gw-1"}}, "network.gatewayId"),
        ({"network": {"mode": "create", "cidr": "10.2.4.0/24"}}, "network.cidr"),
        ({"network": {"mode": "create", "cidr": "10.3.0.0/24"}}, "network.cidr"),
        ({"network": {"mode": "create", "cidr": "172.16.0.0/12"}}, "network.cidr"),
        (
            {
                "cluster": {"region": "EU-WEST-PAR", "plan": "standard"},
                "network": {"mode": "create", "cidr": "10.240.0.0/24"},
                "nodePool": {"zones": ["eu-west-par-a", "eu-west-par-b", "eu-west-par-c"]},
                "ingress": {"replicas": 3},
            },
            "network.cidr",
        ),
        ({"cluster": {"apiAllowedCidrs": ["203.0.113.7"]}}, "cluster.apiAllowedCidrs"),
        ({"cluster": {"apiAllowedCidrs": ["203.0.113.7/24"]}}, "cluster.apiAllowedCidrs"),
        ({"cluster": {"apiAllowedCidrs": ["2001:db8::/32"]}}, "cluster.apiAllowedCidrs"),
        ({"cluster": {"apiAllowedCidrs": []}}, "cluster.apiAllowedCidrs"),
        (
            {"cluster": {"apiAllowedCidrs": ["203.0.113.0/24", "203.0.113.0/24"]}},
            "cluster.apiAllowedCidrs",
        ),
        (
            {"cluster": {"mode": "stack", "stack": "o/p/s", "apiAllowedCidrs": ["0.0.0.0/0"]}},
            "cluster.apiAllowedCidrs",
        ),
        ({"network": {"mode": "existing"}}, "network.privateNetworkId"),
        ({"network": {"mode": "create", "subnetId": SUBNET_ID}}, "network.subnetId"),
        ({"network": {"mode": "create", "cidr": "8.8.8.0/24"}}, "network.cidr"),
        ({"network": {"privateNetworkId": "pn-123456_0", "mode": "existing"}}, "privateNetworkId"),
        ({"nodePool": {"zones": ["eu-west-par-a", "eu-west-par-a"]}}, "nodePool.zones"),
        (
            {
                "cluster": {"region": "EU-WEST-PAR", "plan": "standard"},
                "network": {"mode": "create"},
                "nodePool": {"zones": ["eu-west-par-a", "eu-west-par-b"]},
                "ingress": {"replicas": 1},
            },
            "ingress.replicas",
        ),
    ],
    ids=[
        "multi-zone region on the free plan",
        "multi-zone region without a network",
        "multi-zone region without zones",
        "zones in a single-zone region",
        "a zone outside the region",
        "a gateway id, which no resource takes",
        "a subnet over the pods of the free plan",
        "a subnet over the services",
        "a subnet over the container runtime bridge",
        "a subnet over the pods of the standard plan",
        "an address without its prefix length",
        "host bits set",
        "an IPv6 network",
        "an empty list",
        "a network twice",
        "API access outside create mode",
        "existing network without its id",
        "a subnet id with a network it creates",
        "a public network",
        "a vRack id for the OpenStack id",
        "a zone twice",
        "fewer controllers than zones",
    ],
)
def test_what_ovhcloud_refuses_is_refused_naming_the_key(sections: dict, key: str) -> None:
    message = refused({f"sticky-sessions:{section}": value for section, value in sections.items()})
    assert any(key in line and "Fix:" in line for line in message.splitlines()), message


def test_a_subnet_over_the_free_plans_pods_is_refused_with_what_uses_it() -> None:
    message = refused({"sticky-sessions:network": {"mode": "create", "cidr": "10.2.0.0/24"}})
    assert "overlaps 10.2.0.0/16, which OVHcloud MKS uses for the pods" in message


def test_the_standard_plans_pod_range_is_free_on_the_free_plan() -> None:
    run = run_ok(network={"mode": "create", "cidr": "10.240.0.0/24"})
    assert run.one(SUBNET).inputs["network"] == "10.240.0.0/24"


# --- who can reach the Kubernetes API ----------------------------------------------------------


def test_prod_restricts_its_api_to_the_listed_networks(prod: ProgramRun) -> None:
    access = prod.one(API_ACCESS)
    assert access.inputs["ips"] == ["203.0.113.0/24", "198.51.100.0/24"]
    assert access.inputs["kubeId"] == prod.one(KUBE).id
    assert prod.outputs["apiAllowedCidrs"] == access.inputs["ips"]
    # Deploying waits for the list: a list without this machine fails before any release.
    assert access.urn in prod.one(KUBERNETES_PROVIDER).dependencies


def test_the_preview_says_who_reaches_the_api_and_what_protection_refuses(
    prod: ProgramRun,
) -> None:
    text = render_text(prod)
    assert "Kubernetes API answers only: 203.0.113.0/24, 198.51.100.0/24" in text
    assert text.count("protected: a change that replaces it is refused") == 1  # the Kube alone
    assert "name: sticky-sessions-prod-network-gateway" in text


def test_dev_leaves_its_api_open_and_says_nothing_of_it(dev: ProgramRun) -> None:
    assert not dev.of_type(API_ACCESS)
    assert "apiAllowedCidrs" not in dev.outputs


def test_a_prod_stack_must_say_who_reaches_its_api() -> None:
    overrides = {"sticky-sessions:cluster": {"region": "EU-WEST-PAR", "plan": "standard"}}
    message = refused(overrides, stack="prod")
    assert "sticky-sessions:cluster.apiAllowedCidrs: not set on the production stack" in message
    assert "pulumi config set --path 'sticky-sessions:cluster.apiAllowedCidrs[0]'" in message


def test_everyone_written_out_keeps_a_prod_api_open_on_purpose() -> None:
    run = run_ok({"sticky-sessions:cluster.apiAllowedCidrs": ["0.0.0.0/0"]}, stack="prod")
    assert run.one(API_ACCESS).inputs["ips"] == ["0.0.0.0/0"]


def test_network_and_gateway_names_are_unique_to_the_stack(prod: ProgramRun) -> None:
    # OVHcloud's cloud controller finds the network by name: two stacks must never share one.
    assert prod.one(NETWORK).inputs["name"] == "sticky-sessions-prod-network"
    assert prod.one(GATEWAY).inputs["name"] == "sticky-sessions-prod-network-gateway"
    other = run_ok(network={"mode": "create"}, stack="dev")
    assert other.one(NETWORK).inputs["name"] == "sticky-sessions-dev-network"
