"""The HTTPS sections: a certificate from an ACME ClusterIssuer through cert-manager (`tls`), and
the DNS record that points the app's host at the load balancer (`dns`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from configuration.base import RFC1123_SUBDOMAIN, Section, docs
from configuration.controllers import Chart
from configuration.resources import CERT_MANAGER_RESOURCES, Resources, over_defaults

# The ClusterIssuers this stack creates, and the ACME directory each one talks to.
ACME_SERVERS = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}
CERT_MANAGER_CHART = Chart(
    name="cert-manager",
    repository="https://charts.jetstack.io",
    version="v1.21.1",  # cert-manager's release tooling keeps the leading v
)
CERT_MANAGER_NAMESPACE = "cert-manager"
# What serves HTTP-01 challenges: a Let's Encrypt account e-mail, as ACME asks for one.
EMAIL = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"


class TlsConfig(Section):
    enabled: bool = Field(
        default=False,
        description="true or false: serve app.host over HTTPS with a certificate cert-manager "
        "issues and renews",
        json_schema_extra=docs(note="needs `app.host`; the cookie becomes Secure"),
    )
    issuer: str = Field(
        default="letsencrypt",
        pattern=RFC1123_SUBDOMAIN,
        max_length=253,
        description="letsencrypt, letsencrypt-staging, or the name of an existing ClusterIssuer",
        json_schema_extra=docs(note="the first two are created by the stack"),
    )
    email: str | None = Field(
        default=None,
        pattern=EMAIL,
        max_length=254,
        description="an e-mail address for the ACME account (Let's Encrypt's expiry notices)",
        json_schema_extra=docs(note="required when the stack creates the issuer"),
    )
    resources: Annotated[Resources, BeforeValidator(over_defaults(CERT_MANAGER_RESOURCES))] = Field(
        default=Resources.model_validate(CERT_MANAGER_RESOURCES),
        description="requests (cpu, memory) and limits (memory) of each cert-manager "
        "container (controller, webhook, cainjector, startup check, HTTP-01 solvers)",
        json_schema_extra=docs(note="set fields replace the defaults one by one"),
    )

    @property
    def creates_issuer(self) -> bool:
        return self.issuer in ACME_SERVERS


class DnsConfig(Section):
    zone: str | None = Field(
        default=None,
        pattern=RFC1123_SUBDOMAIN,
        max_length=253,
        description="an OVHcloud DNS zone of the same account, such as example.com",
        json_schema_extra=docs(note="the stack then writes the A record of `app.host`"),
    )
    ttl: int = Field(
        default=300, ge=60, le=86400, description="an integer from 60 to 86400 (seconds)"
    )
