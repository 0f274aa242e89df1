"""Live: a real stack on OVHcloud, its stickiness checked, then destroyed.

Runs only with the Pulumi CLI and OVHcloud credentials (it costs a real cluster for about
15 minutes); skipped with the exact missing piece otherwise. Run it with:

    OVH_ENDPOINT=ovh-eu OVH_APPLICATION_KEY=... OVH_APPLICATION_SECRET=... OVH_CONSUMER_KEY=... \\
    OVH_CLOUD_PROJECT_SERVICE=<project id> venv/bin/python -m pytest -s tests/integration
"""

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.check_affinity.answers import EXIT_STICKY
from tools.check_affinity.command import main as check_affinity
from tools.preview.mocks import PROJECT_DIR

PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "requirements.txt", "components")
KEY_CREDENTIALS = ("OVH_APPLICATION_KEY", "OVH_APPLICATION_SECRET", "OVH_CONSUMER_KEY")
OAUTH_CREDENTIALS = ("OVH_CLIENT_ID", "OVH_CLIENT_SECRET")


def missing_piece() -> str | None:
    if shutil.which("pulumi") is None:
        return "the Pulumi CLI is not installed (no `pulumi` on PATH)"
    if not os.environ.get("OVH_ENDPOINT"):
        return "OVH_ENDPOINT is not set (e.g. ovh-eu)"
    if not (
        all(os.environ.get(k) for k in KEY_CREDENTIALS)
        or all(os.environ.get(k) for k in OAUTH_CREDENTIALS)
    ):
        return (
            "no OVHcloud credentials: set "
            + ", ".join(KEY_CREDENTIALS)
            + " or "
            + ", ".join(OAUTH_CREDENTIALS)
        )
    if not os.environ.get("OVH_CLOUD_PROJECT_SERVICE"):
        return "OVH_CLOUD_PROJECT_SERVICE (the Public Cloud project id) is not set"
    return None


pytestmark = pytest.mark.skipif(missing_piece() is not None, reason=missing_piece() or "")
# The HTTPS variant also needs an OVHcloud DNS zone of the same account, and an e-mail for the
# Let's Encrypt staging account.
DNS_ZONE, ACME_EMAIL = "STICKY_LIVE_DNS_ZONE", "STICKY_LIVE_ACME_EMAIL"


def missing_https_piece() -> str | None:
    for variable, what in (
        (DNS_ZONE, "an OVHcloud DNS zone this account manages, e.g. example.com"),
        (ACME_EMAIL, "an e-mail address for the Let's Encrypt staging account"),
    ):
        if not os.environ.get(variable):
            return f"{variable} is not set ({what})"
    return None


def recovery_commands(work_dir: Path, state: Path, passphrase: str, stack_name: str) -> str:
    """What to run by hand when `destroy` failed: the cluster is still billed, and only this
    state folder and passphrase can manage it."""
    return "\n".join(
        [
            f"The live stack {stack_name} was NOT destroyed: OVHcloud resources are still billed.",
            "Finish the destroy by hand (the state and the project are kept for it):",
            f"  cd {work_dir}",
            f"  export PULUMI_BACKEND_URL=file://{state}",
            f"  export PULUMI_CONFIG_PASSPHRASE='{passphrase}'",
            f"  pulumi destroy --stack {stack_name} --yes && pulumi stack rm {stack_name} --yes",
        ]
    )


@pytest.fixture
def live_stack(request: pytest.FixtureRequest) -> Iterator[object]:
    """An ephemeral stack on a local file backend in a folder pytest never cleans: destroyed
    and removed when all goes well; kept, with the commands to finish by hand, when not."""
    from pulumi import automation as auto

    tmp_path = Path(tempfile.mkdtemp(prefix="sticky-sessions-live-"))
    work_dir = tmp_path / "project"
    work_dir.mkdir()
    for name in PROJECT_FILES:
        source = PROJECT_DIR / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, work_dir / name)
    (tmp_path / "state").mkdir()
    passphrase = secrets.token_urlsafe(24)
    env = {
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
    }
    stack_name = f"live-{secrets.token_hex(3)}"
    stack = auto.create_stack(
        stack_name,
        work_dir=str(work_dir),
        opts=auto.LocalWorkspaceOptions(env_vars=env),
    )
    try:
        # The dev stack's values (its Pulumi.dev.yaml is not this stack's file), on one node,
        # set the way a user would: `pulumi config set --path`.
        live_config = {
            "sticky-sessions:cluster.name": "sticky-live-test",
            "sticky-sessions:nodePool.desiredNodes": "1",
            "sticky-sessions:nodePool.minNodes": "1",
            "sticky-sessions:nodePool.maxNodes": "1",
            "sticky-sessions:app.replicas": "3",
        } | getattr(request, "param", {})
        stack.set_all_config(
            {key: auto.ConfigValue(value) for key, value in live_config.items()}, path=True
        )
        yield stack
    finally:
        try:
            stack.destroy(on_output=print)
        except Exception:
            print(recovery_commands(work_dir, tmp_path / "state", passphrase, stack_name))
            raise
        stack.workspace.remove_stack(stack_name)
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_real_stack_is_sticky(live_stack: object) -> None:
    result = live_stack.up(on_output=print)
    url = result.outputs["url"].value
    cookie_name = result.outputs["cookieName"].value
    assert result.outputs["kubeconfig"].secret
    assert check_affinity([url, "--cookie-name", cookie_name, "--requests", "50"]) == EXIT_STICKY


def _https_config() -> dict[str, str]:
    zone, email = os.environ.get(DNS_ZONE, ""), os.environ.get(ACME_EMAIL, "")
    return {
        "sticky-sessions:app.host": f"sticky-live-{secrets.token_hex(3)}.{zone}",
        "sticky-sessions:dns.zone": zone,
        "sticky-sessions:tls.enabled": "true",
        "sticky-sessions:tls.issuer": "letsencrypt-staging",
        "sticky-sessions:tls.email": email,
    }


@pytest.mark.skipif(missing_https_piece() is not None, reason=missing_https_piece() or "")
@pytest.mark.parametrize("live_stack", [_https_config()], indirect=True)
def test_a_real_https_stack_is_sticky_with_a_secure_cookie(live_stack: object) -> None:
    result = live_stack.up(on_output=print)
    url = result.outputs["url"].value
    assert url.startswith("https://")
    # The staging certificate arrives a minute or two after the record resolves; its CA is
    # not trusted, hence --insecure. Bounded: 40 tries, 15 s apart.
    argv = [url, "--cookie-name", result.outputs["cookieName"].value, "--insecure", "--json"]
    for _ in range(40):
        if check_affinity(argv) == EXIT_STICKY:
            return
        time.sleep(15)
    pytest.fail(f"{url} was not sticky over HTTPS within 10 minutes")


def test_a_real_stack_moves_to_traefik_keeping_its_address(live_stack: object) -> None:
    """The three `pulumi up`s of README "Moving to Traefik", the address kept, stickiness
    checked at each step (about 40 minutes: four load balancers are built)."""
    from pulumi import automation as auto

    def up(**ingress: str) -> dict[str, object]:
        live_stack.set_all_config(
            {f"sticky-sessions:ingress.{k}": auto.ConfigValue(v) for k, v in ingress.items()},
            path=True,
        )
        return {k: v.value for k, v in live_stack.up(on_output=print).outputs.items()}

    address = up()["loadBalancerAddress"]
    outputs = up(keepFloatingIp="true", loadBalancerIp=str(address))
    assert outputs["loadBalancerAddress"] == address and outputs["servedBy"] == "ingress-nginx"

    outputs = up(controller="traefik", migration="side-by-side")
    url, test_address = str(outputs["url"]), str(outputs["migrationTestAddress"])
    assert outputs["servedBy"] == "ingress-nginx" and test_address != address
    assert check_affinity([url, "--connect-to", test_address]) == EXIT_STICKY
    assert check_affinity([url]) == EXIT_STICKY

    outputs = up(migration="cut-over")
    assert outputs["servedBy"] == "traefik" and outputs["loadBalancerAddress"] == address
    assert check_affinity([url]) == EXIT_STICKY

    outputs = up(migration="none")
    assert outputs["servedBy"] == "traefik" and outputs["loadBalancerAddress"] == address
    assert "migrationTestAddress" not in outputs
    assert check_affinity([url]) == EXIT_STICKY
