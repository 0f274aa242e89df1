"""The state bucket of a team's sticky-sessions stacks on OVHcloud Object Storage, and the S3
user CI and engineers log in with (README, "State for a team")."""

import pulumi
import pulumi_ovh as ovh
import state

config = pulumi.Config()
try:  # every setting checked before anything is declared; one message, no traceback
    bucket_name = state.checked_bucket(config.get("bucket") or "")
    region = state.checked_region(config.get("region") or "GRA")
except state.SettingError as error:
    raise pulumi.RunError(str(error)) from None
service_name = config.get("serviceName") or None  # else OVH_CLOUD_PROJECT_SERVICE

bucket = ovh.cloudproject.Storage(
    "state-bucket",
    service_name=service_name,
    region_name=region,
    name=bucket_name,
    versioning={"status": "enabled"},  # every state write keeps the previous version
    encryption={"sse_algorithm": "AES256"},  # encrypted at rest
    opts=pulumi.ResourceOptions(protect=True),  # the state of every stack lives in it
)
user = ovh.cloudproject.User(
    "state-user",
    service_name=service_name,
    description=f"Pulumi state in {bucket_name} (sticky-sessions)",
    role_names=["objectstore_operator"],
)
credential = ovh.cloudproject.S3Credential(
    "state-credential", service_name=service_name, user_id=user.id
)
ovh.cloudproject.S3Policy(
    "state-policy",
    service_name=service_name,
    user_id=user.id,
    policy=state.bucket_policy(bucket_name),
    opts=pulumi.ResourceOptions(depends_on=[bucket]),
)

login_url = state.login_url(bucket_name, region)
pulumi.export("bucket", bucket.name)
pulumi.export("endpoint", state.endpoint(region))
pulumi.export("loginUrl", login_url)
pulumi.export("accessKeyId", pulumi.Output.secret(credential.access_key_id))
pulumi.export("secretAccessKey", pulumi.Output.secret(credential.secret_access_key))
pulumi.export(
    "ciEnvironment",
    pulumi.Output.secret(
        pulumi.Output.all(credential.access_key_id, credential.secret_access_key).apply(
            lambda keys: {
                "PULUMI_BACKEND_URL": login_url,
                "AWS_ACCESS_KEY_ID": keys[0],
                "AWS_SECRET_ACCESS_KEY": keys[1],
                "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
                "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
            }
        )
    ),
)
