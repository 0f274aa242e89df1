"""The state bucket's program (bootstrap/), under mocks: a versioned, encrypted, protected bucket,
a user whose S3 policy reaches that bucket only, secret credentials, and the exact login URL;
its settings refused before anything is declared."""

from __future__ import annotations

import json

import pytest

from configuration.cli import PLACEHOLDER_SECRET
from tools.preview.mocks import PROJECT_DIR, run_program
from tools.preview.recorded import ProgramRun, plain

BOOTSTRAP = PROJECT_DIR / "bootstrap"
KEY = "sticky-sessions-state"


def bootstrap(**settings: str) -> ProgramRun:
    overrides = {f"{KEY}:{name}": value for name, value in settings.items()}
    return run_program("team", overrides, project_dir=BOOTSTRAP)


@pytest.fixture(scope="module")
def team() -> ProgramRun:
    run = bootstrap()
    assert run.error is None, run.error
    return run


def test_the_bucket_is_versioned_encrypted_and_protected(team: ProgramRun) -> None:
    bucket = team.one("ovh:CloudProject/storage:Storage")
    inputs = plain(bucket.inputs)
    assert inputs["name"] == "example-sticky-sessions-state" and inputs["regionName"] == "GRA"
    assert inputs["versioning"] == {"status": "enabled"}
    assert inputs["encryption"] == {"sseAlgorithm": "AES256"}
    assert bucket.protect


def test_the_user_may_use_that_bucket_only(team: ProgramRun) -> None:
    policy = team.one("ovh:CloudProject/s3Policy:S3Policy")
    user = team.one("ovh:CloudProject/user:User")
    document = json.loads(plain(policy.inputs)["policy"])
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == [
        "arn:aws:s3:::example-sticky-sessions-state",
        "arn:aws:s3:::example-sticky-sessions-state/*",
    ]
    actions = set(statement["Action"])
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"} <= actions
    assert not any("*" in action for action in actions)
    assert not actions & {"s3:DeleteBucket", "s3:PutBucketPolicy", "s3:PutBucketVersioning"}
    assert plain(user.inputs)["roleNames"] == ["objectstore_operator"]
    assert user.urn in policy.dependencies


def test_the_credentials_are_secret_outputs_and_the_login_url_exact(team: ProgramRun) -> None:
    assert team.outputs["loginUrl"] == (
        "s3://example-sticky-sessions-state?endpoint=https://s3.gra.io.cloud.ovh.net"
        "&region=gra&s3ForcePathStyle=true"
    )
    assert team.outputs["endpoint"] == "https://s3.gra.io.cloud.ovh.net"
    assert {"accessKeyId", "secretAccessKey", "ciEnvironment"} <= team.secret_outputs
    assert team.outputs["secretAccessKey"] == PLACEHOLDER_SECRET
    environment = team.outputs["ciEnvironment"]
    assert environment["PULUMI_BACKEND_URL"] == team.outputs["loginUrl"]
    assert environment["AWS_REQUEST_CHECKSUM_CALCULATION"] == "when_required"


def test_a_three_zone_region_gets_its_own_endpoint() -> None:
    run = bootstrap(region="EU-WEST-PAR", bucket="acme.state-1")
    assert run.error is None, run.error
    assert run.outputs["loginUrl"] == (
        "s3://acme.state-1?endpoint=https://s3.eu-west-par.io.cloud.ovh.net"
        "&region=eu-west-par&s3ForcePathStyle=true"
    )


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"bucket": ""}, "bucket is ''"),
        ({"bucket": "ab"}, "3 to 63"),
        ({"bucket": "a" * 64}, "3 to 63"),
        ({"bucket": "Acme-State"}, "a-z 0-9"),
        ({"bucket": "acme_state"}, "a-z 0-9"),
        ({"bucket": "-acme"}, "starting and ending"),
        ({"bucket": "acme-"}, "starting and ending"),
        ({"bucket": "acme..state"}, "no two dots"),
        ({"bucket": "acme.-state"}, "no dot next to a hyphen"),
        ({"bucket": "192.168.1.10"}, "not an IP address"),
        ({"bucket": "acme state"}, "a-z 0-9"),
        ({"bucket": "acme/../etc"}, "a-z 0-9"),
        ({"region": "gra"}, "in capitals"),
        ({"region": "GRA9; rm -rf"}, "in capitals"),
        ({"region": ""}, None),  # empty takes the default, GRA
    ],
)
def test_bad_settings_are_one_message_and_nothing_declared(
    settings: dict[str, str], said: str | None
) -> None:
    run = bootstrap(**settings)
    if said is None:
        assert run.error is None and run.outputs["endpoint"].endswith("s3.gra.io.cloud.ovh.net")
        return
    assert run.error is not None and said in str(run.error)
    key = next(iter(settings))
    assert f"{KEY}:{key}" in str(run.error) and "pulumi config set" in str(run.error)
    assert run.resources == []
