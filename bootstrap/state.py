"""What the state bucket's program computes, apart from the resources: its settings, checked
before anything is declared; the S3 policy that limits its user to that bucket; and the exact
`pulumi login` URL and environment that CLIs and CI need."""

from __future__ import annotations

import ipaddress
import json
import re
from urllib.parse import urlencode

PROJECT = "sticky-sessions-state"
# What the Pulumi CLI's DIY backend does with its bucket: read, write and delete state files,
# checkpoints and locks, list them, and multipart uploads of large states.
STATE_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "s3:GetBucketLocation",
    "s3:ListBucketMultipartUploads",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
)
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
REGION = re.compile(r"[A-Z]{2,4}(-[A-Z]+)*[0-9]*|[A-Z]{2}-[A-Z]+-[A-Z]+")


class SettingError(ValueError):
    """One bad setting: which key, what was given, what is accepted."""


def checked_bucket(name: str) -> str:
    """OVHcloud's bucket-name rules (docs.ovh.com, "Getting started with S3": 3 to 63 of a-z 0-9
    . -, starting and ending with a letter or digit, not shaped like an IP address)."""
    problem = None
    if not BUCKET.fullmatch(name):
        problem = "3 to 63 of a-z 0-9 . - starting and ending with a letter or a digit"
    elif ".." in name or ".-" in name or "-." in name:
        problem = "no two dots, and no dot next to a hyphen"
    else:
        try:
            ipaddress.ip_address(name)
            problem = "not an IP address"
        except ValueError:
            pass
    if problem is not None:
        raise SettingError(
            f"{PROJECT}:bucket is {name!r}: a bucket name is {problem}; "
            f"set it with pulumi config set {PROJECT}:bucket acme-pulumi-state"
        )
    return name


def checked_region(region: str) -> str:
    if not REGION.fullmatch(region):
        raise SettingError(
            f"{PROJECT}:region is {region!r}: an OVHcloud region in capitals, e.g. GRA, SBG, "
            f"DE, EU-WEST-PAR; set it with pulumi config set {PROJECT}:region GRA"
        )
    return region


def endpoint(region: str) -> str:
    """The Object Storage S3 endpoint of a region: https://s3.<region>.io.cloud.ovh.net."""
    return f"https://s3.{region.lower()}.io.cloud.ovh.net"


def login_url(bucket: str, region: str) -> str:
    """The `pulumi login` URL of the DIY backend in that bucket (path-style requests: OVHcloud's
    endpoint serves every bucket under one host)."""
    query = urlencode(
        {"endpoint": endpoint(region), "region": region.lower(), "s3ForcePathStyle": "true"},
        safe=":/",
    )
    return f"s3://{checked_bucket(bucket)}?{query}"


def bucket_policy(bucket: str) -> str:
    """The S3 policy of the state's user: the state actions on that bucket and its objects,
    nothing else (no other bucket, no bucket deletion, no policy change)."""
    return json.dumps(
        {
            "Statement": [
                {
                    "Sid": "PulumiStateOnly",
                    "Effect": "Allow",
                    "Action": list(STATE_ACTIONS),
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ]
        },
        sort_keys=True,
    )
