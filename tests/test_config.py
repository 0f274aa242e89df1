"""Configuration: defaults, the stack files, and one clear message per bad value."""

import json

import jsonschema
import pytest
import yaml

from configuration.base import SERVICE_NAME_ENV
from configuration.errors import ConfigError
from configuration.running import parse_stack_config
from configuration.sections import DEFAULT_IMAGE, SECTION_MODELS, SECTIONS
from tests.helpers import refused
from tools.preview.mocks import PROJECT_DIR, cli_config

PROJECT_ID = "0123456789abcdef0123456789abcdef"
ENV = {SERVICE_NAME_ENV: PROJECT_ID}
CONTEXT = {"stack": "dev", "environ": ENV}


def test_defaults_are_the_tutorials_values() -> None:
    config = parse_stack_config({}, "dev", ENV)
    assert config.app.image == DEFAULT_IMAGE == "ovhplatform/what-is-my-pod:1.0.1"
    assert (config.app.replicas, config.app.port, config.app.namespace) == (3, 8080, "default")
    assert config.affinity.cookie_name == "stickounet"
    assert (config.affinity.expires, config.affinity.max_age) == (172800, 172800)
    assert config.ingress.chart_version == "4.15.1"
    assert config.cluster.name == "sticky-dev"
    assert config.cluster.update_policy == "MINIMAL_DOWNTIME"


def test_service_name_falls_back_to_the_environment_and_config_wins() -> None:
    assert parse_stack_config({}, "dev", ENV).cluster.service_name == PROJECT_ID
    other = "f" * 32
    raw = {"cluster": f'{{"serviceName": "{other}"}}'}
    assert parse_stack_config(raw, "dev", ENV).cluster.service_name == other


def test_service_name_missing_everywhere_says_both_ways_to_set_it() -> None:
    with pytest.raises(ConfigError) as error:
        parse_stack_config({}, "dev", {})
    message = str(error.value)
    assert "sticky-sessions:cluster.serviceName" in message
    assert SERVICE_NAME_ENV in message


@pytest.mark.parametrize("given", ["strict", "STRICT", "Strict", "sTrIcT"])
def test_same_site_is_emitted_capitalised_whatever_its_case(given: str) -> None:
    raw = {"affinity": f'{{"sameSite": "{given}"}}'}
    assert parse_stack_config(raw, "dev", ENV).affinity.same_site == "Strict"


def test_every_problem_is_reported_at_once() -> None:
    raw = {"app": '{"replicas": 0, "port": 0}', "affinity": '{"mode": "sticky"}'}
    with pytest.raises(ConfigError) as error:
        parse_stack_config(raw, "dev", ENV)
    assert len(error.value.problems) == 3


def test_a_secret_value_is_never_echoed_in_a_message() -> None:
    raw = {"app": '{"image": "registry.example.com/app:latest"}'}
    with pytest.raises(ConfigError) as error:
        parse_stack_config(raw, "dev", ENV, secret_keys=frozenset({"sticky-sessions:app"}))
    assert "registry.example.com" not in str(error.value)
    assert "[secret]" in str(error.value)


def test_pulumi_yaml_declares_every_section_as_an_object_with_an_empty_default() -> None:
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    assert project["name"] == "sticky-sessions"
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": "venv"},
    }
    assert set(project["config"]) == set(SECTIONS)
    for declaration in project["config"].values():
        assert declaration["type"] == "object"
        assert declaration["default"] == {}
        assert declaration["description"]


CREDENTIAL_KEYS = ("applicationSecret", "consumerKey", "clientSecret", "kubeconfig")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_hold_no_plaintext_credential(stack: str) -> None:
    config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    for key, value in config.items():
        if any(word.lower() in key.lower() for word in CREDENTIAL_KEYS):
            assert isinstance(value, dict) and set(value) == {"secure"}, key
    # The project id is the user's own: from their config or OVH_CLOUD_PROJECT_SERVICE.
    assert "serviceName" not in config.get("sticky-sessions:cluster", {})


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_hold_only_what_differs_from_the_defaults(stack: str) -> None:
    # A default written again in a stack file would silently stop following the model's.
    config = yaml.safe_load((PROJECT_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    for key, settings in config.items():
        section = key.removeprefix("sticky-sessions:")
        defaults = (
            SECTION_MODELS[section].model_validate({}, context=CONTEXT).model_dump(by_alias=True)
        )
        for field, value in settings.items():
            assert defaults[field] != value, f"{key}.{field} repeats the default {value!r}"


# Each row: what it proves, the override (`pulumi config set --path` key and value), the key
# the message must name.
BAD = [
    ("unknown top-level key", {"sticky-sessions:aap": {"replicas": 2}}, "sticky-sessions:aap"),
    ("typo in app", {"sticky-sessions:app.replica": 2}, "sticky-sessions:app.replica"),
    ("typo in affinity", {"sticky-sessions:affinity.cookiename": "x"}, "affinity.cookiename"),
    ("typo in nodePool", {"sticky-sessions:nodePool.desired": 2}, "nodePool.desired"),
    ("section not an object", {"sticky-sessions:app": "big"}, "sticky-sessions:app"),
    ("replicas zero", {"sticky-sessions:app.replicas": 0}, "sticky-sessions:app.replicas"),
    ("replicas as text", {"sticky-sessions:app.replicas": "three"}, "app.replicas"),
    ("replicas fractional", {"sticky-sessions:app.replicas": 2.5}, "app.replicas"),
    ("replicas boolean", {"sticky-sessions:app.replicas": True}, "app.replicas"),
    ("port zero", {"sticky-sessions:app.port": 0}, "sticky-sessions:app.port"),
    ("port too high", {"sticky-sessions:app.port": 70000}, "sticky-sessions:app.port"),
    ("image untagged", {"sticky-sessions:app.image": "ovhplatform/what-is-my-pod"}, "app.image"),
    ("image latest", {"sticky-sessions:app.image": "ovhplatform/what-is-my-pod:latest"}, "image"),
    ("image registry port only", {"sticky-sessions:app.image": "reg:5000/app"}, "app.image"),
    ("namespace underscore", {"sticky-sessions:app.namespace": "my_ns"}, "app.namespace"),
    ("namespace uppercase", {"sticky-sessions:app.namespace": "Prod"}, "app.namespace"),
    ("app name too long", {"sticky-sessions:app.name": "a" * 41}, "sticky-sessions:app.name"),
    ("host with scheme", {"sticky-sessions:app.host": "http://x.example.com"}, "app.host"),
    ("pool name underscore", {"sticky-sessions:nodePool.name": "my_pool"}, "nodePool.name"),
    ("min above desired", {"sticky-sessions:nodePool.minNodes": 2}, "nodePool.desiredNodes"),
    ("desired above max", {"sticky-sessions:nodePool.desiredNodes": 3}, "nodePool.desiredNodes"),
    ("more than 100 nodes", {"sticky-sessions:nodePool.maxNodes": 101}, "nodePool.maxNodes"),
    (
        "anti-affinity over 5",
        {"sticky-sessions:nodePool": {"antiAffinity": True, "maxNodes": 6}},
        "nodePool.maxNodes",
    ),
    (
        "autoscale without room",
        {"sticky-sessions:nodePool": {"autoscale": True, "desiredNodes": 2}},
        "nodePool.maxNodes",
    ),
    ("region lowercase", {"sticky-sessions:cluster.region": "gra9"}, "cluster.region"),
    ("version with patch", {"sticky-sessions:cluster.version": "1.34.2"}, "cluster.version"),
    ("version unsupported", {"sticky-sessions:cluster.version": "1.22"}, "cluster.version"),
    ("version as number", {"sticky-sessions:cluster.version": 1.34}, "cluster.version"),
    ("update policy", {"sticky-sessions:cluster.updatePolicy": "SOMETIMES"}, "updatePolicy"),
    ("project id shape", {"sticky-sessions:cluster.serviceName": "my-project"}, "serviceName"),
    ("cookie name space", {"sticky-sessions:affinity.cookieName": "sticky cookie"}, "cookieName"),
    ("cookie name semicolon", {"sticky-sessions:affinity.cookieName": "a;b"}, "cookieName"),
    ("cookie name empty", {"sticky-sessions:affinity.cookieName": ""}, "cookieName"),
    ("expires negative", {"sticky-sessions:affinity.expires": -1}, "affinity.expires"),
    ("expires as text", {"sticky-sessions:affinity.expires": "2d"}, "affinity.expires"),
    ("maxAge negative", {"sticky-sessions:affinity.maxAge": -5}, "affinity.maxAge"),
    ("sameSite unknown", {"sticky-sessions:affinity.sameSite": "Relaxed"}, "affinity.sameSite"),
    ("sameSite None insecure", {"sticky-sessions:affinity.sameSite": "None"}, "affinity.sameSite"),
    ("mode unknown", {"sticky-sessions:affinity.mode": "sticky"}, "affinity.mode"),
    ("path relative", {"sticky-sessions:affinity.path": "app"}, "affinity.path"),
    ("path with ;", {"sticky-sessions:affinity.path": "/;Domain=x"}, "affinity.path"),
    (
        "secure as text",
        # Alone in its section, `secure: "yes"` would be read by the CLI as an encrypted value.
        {"sticky-sessions:affinity": {"secure": "yes", "path": "/"}},
        "affinity.secure",
    ),
    ("chart range", {"sticky-sessions:ingress.chartVersion": "^4.15"}, "ingress.chartVersion"),
    ("chart latest", {"sticky-sessions:ingress.chartVersion": "latest"}, "chartVersion"),
    ("controller unknown", {"sticky-sessions:ingress.controller": "nginx"}, "controller"),
    ("traffic policy", {"sticky-sessions:ingress.externalTrafficPolicy": "Node"}, "Policy"),
    (
        "annotation key invalid",
        {"sticky-sessions:ingress.serviceAnnotations": {"bad key": "x"}},
        'serviceAnnotations["bad key"]',
    ),
    (
        "annotation value not text",
        {"sticky-sessions:ingress.serviceAnnotations": {"a.b/c": 3}},
        'serviceAnnotations["a.b/c"]',
    ),
    ("ingress namespace", {"sticky-sessions:ingress.namespace": "Ingress"}, "ingress.namespace"),
    ("resources not an object", {"sticky-sessions:app.resources": "big"}, "app.resources"),
    (
        "memory limit below the request",
        {"sticky-sessions:app.resources": {"limits": {"memory": "8Mi"}}},
        "app.resources.limits.memory",
    ),
    (
        "proxy-protocol annotation by hand",
        {
            "sticky-sessions:ingress.serviceAnnotations": {
                "loadbalancer.openstack.org/proxy-protocol": "true"
            }
        },
        "ingress.proxyProtocol",
    ),
    (
        "app in the controller's namespace",
        {"sticky-sessions:app.namespace": "ingress-nginx"},
        "app.namespace",
    ),
]


@pytest.mark.parametrize(("overrides", "key"), [row[1:] for row in BAD], ids=[r[0] for r in BAD])
def test_bad_configuration_names_the_key_and_declares_nothing(
    overrides: dict[str, object], key: str
) -> None:
    message = refused(overrides)
    lines = [line for line in message.splitlines() if key in line]
    assert lines, message
    assert "Fix: pulumi config" in lines[0]


@pytest.mark.parametrize("project_file", ["Pulumi.yaml", "examples/consumer/Pulumi.yaml"])
def test_project_files_satisfy_the_clis_schema(project_file: str) -> None:
    schema = json.loads((PROJECT_DIR / "tests/data/pulumi-project.schema.json").read_text())
    jsonschema.validate(yaml.safe_load((PROJECT_DIR / project_file).read_text()), schema)


def test_an_encrypted_value_is_what_the_cli_takes_for_one() -> None:
    # The CLI reads a map whose one key is `secure` as a ciphertext only when it holds a string.
    secret = cli_config("dev", {"sticky-sessions:affinity": {"secure": "v1:c2VjcmV0"}})
    assert secret.secret_keys == {"sticky-sessions:affinity"}
    plain_value = cli_config("dev", {"sticky-sessions:affinity": {"secure": True}})
    assert plain_value.secret_keys == frozenset()
    assert json.loads(plain_value.values["sticky-sessions:affinity"]) == {"secure": True}


TOKEN = "token-that-must-never-be-printed"
CONTEXT_A = {"name": "a", "context": {"cluster": "c", "user": "u"}}
CLUSTER_C = {"name": "c", "cluster": {"server": "https://203.0.113.20:6443"}}
USERS = [{"name": "u", "user": {"token": TOKEN}}]
KUBECONFIG_SHAPES = {
    "not YAML": ("clusters: [unclosed", "not YAML"),
    "no current-context": (
        {"contexts": [CONTEXT_A], "clusters": [CLUSTER_C], "users": USERS},
        "current-context",
    ),
    "no contexts": (
        {"current-context": "a", "clusters": [CLUSTER_C], "users": USERS},
        "names no context",
    ),
    "current-context names nothing": (
        {"current-context": "b", "contexts": [CONTEXT_A], "clusters": [CLUSTER_C], "users": USERS},
        "names no context",
    ),
    "contexts a string": (
        {"current-context": "a", "contexts": "a", "clusters": [CLUSTER_C], "users": USERS},
        "contexts are not a list",
    ),
    "current-context a list": (
        {
            "current-context": ["a"],
            "contexts": [CONTEXT_A],
            "clusters": [CLUSTER_C],
            "users": USERS,
        },
        "current-context is not a name",
    ),
    "server not a URL": (
        {
            "current-context": "a",
            "contexts": [CONTEXT_A],
            "clusters": [{"name": "c", "cluster": {"server": ["x"]}}],
            "users": USERS,
        },
        "no cluster with a server",
    ),
    "no clusters": (
        {"current-context": "a", "contexts": [CONTEXT_A], "users": USERS},
        "no cluster with a server",
    ),
    "cluster without server": (
        {
            "current-context": "a",
            "contexts": [CONTEXT_A],
            "clusters": [{"name": "c", "cluster": {}}],
            "users": USERS,
        },
        "no cluster with a server",
    ),
}


@pytest.mark.parametrize(
    ("kubeconfig", "why"), KUBECONFIG_SHAPES.values(), ids=KUBECONFIG_SHAPES.keys()
)
def test_a_kubeconfig_of_the_wrong_shape_is_refused_without_quoting_it(
    kubeconfig: object, why: str
) -> None:
    text = kubeconfig if isinstance(kubeconfig, str) else yaml.safe_dump(kubeconfig)
    raw = {"cluster": json.dumps({"mode": "existing", "kubeconfig": text})}
    with pytest.raises(ConfigError) as error:
        parse_stack_config(raw, "dev", ENV, secret_keys=frozenset({"sticky-sessions:cluster"}))
    [line] = error.value.problems
    assert line.startswith("sticky-sessions:cluster.kubeconfig: got [secret]")
    assert why in line and "--secret" in line
    assert TOKEN not in str(error.value) and "203.0.113.20" not in str(error.value)


def test_overrides_are_never_changed_by_a_run() -> None:
    section = {"enabled": True}
    overrides = {"sticky-sessions:tls": section, "sticky-sessions:tls.email": "ops@example.com"}
    cli_config("dev", overrides)
    assert section == {"enabled": True}
