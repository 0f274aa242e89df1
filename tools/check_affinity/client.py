"""The HTTP client of the check and the watch: TLS shared by every client of a run, one cookie
jar per client, bounded bodies, and every failure turned into one CheckError that says why."""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tools.check_affinity.answers import Answer, CheckError, printable, shown_url

CONNECT_RETRIES = 2
# Limits: what-is-my-pod answers in a few dozen bytes; nothing else is read further.
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Connection:
    """How every client of a run connects: how the server's certificate is checked (the
    system's CAs, a CA file, or not at all), and the address to connect to instead of the URL
    host's (`--connect-to`, curl's --resolve: the Host header and TLS server name stay the
    URL's, so a hostname's Ingress and certificate are checked at another load balancer)."""

    ca_cert: Path | None = None
    insecure: bool = False
    connect_to: str | None = None

    def context(self) -> ssl.SSLContext | bool:
        """What every client of a run shares: False (no check), True (aiohttp's verified
        context over the system CAs, made once when aiohttp is imported), or one context for
        --ca-cert, made on the first call. Building a context loads a CA store (20 to 80 ms of
        CPU): one per client would stall the event loop under hundreds of sessions."""
        if self.insecure:
            return False
        if self.ca_cert is None:
            return True
        return _ca_context(self.ca_cert)


@functools.cache
def _ca_context(ca_cert: Path) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=str(ca_cert))
    except (OSError, ssl.SSLError) as error:
        raise CheckError(
            f"--ca-cert {ca_cert}: not a readable PEM certificate file ({printable(str(error))})"
        ) from None


def new_client(connections: int, timeout: float, connection: Connection) -> aiohttp.ClientSession:
    """A client with its own cookie jar (unsafe=True: the jar also keeps cookies of IP hosts,
    and a load balancer URL is usually an IP) and up to `connections` keep-alive connections."""
    resolver = None if connection.connect_to is None else _Fixed(connection.connect_to)
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(
            limit=connections, ssl=connection.context(), resolver=resolver
        ),
        timeout=aiohttp.ClientTimeout(total=timeout),
    )


class _Fixed(aiohttp.abc.AbstractResolver):
    """Every host name resolves to one address (an IPv4 or IPv6 literal)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.family = socket.AF_INET6 if ":" in address else socket.AF_INET

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[Any]:
        return [
            {
                "hostname": host,
                "host": self.address,
                "port": port,
                "family": self.family,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    """The body up to its end, or MAX_BODY_BYTES + 1 bytes (then it is too long): a truncated
    body raises at its end instead of passing as a short one."""
    body = b""
    while len(body) <= MAX_BODY_BYTES:
        chunk = await response.content.read(MAX_BODY_BYTES + 1 - len(body))
        if not chunk:
            break
        body += chunk
    return body


def error_reason(error: BaseException) -> str:
    return printable(str(error) or type(error).__name__, limit=160)


async def fetch(session: aiohttp.ClientSession, url: str, retries: int = CONNECT_RETRIES) -> Answer:
    """One GET, its body read up to MAX_BODY_BYTES. A refused connection or a timeout is retried
    `retries` times; every failure ends as a CheckError saying why."""
    shown = shown_url(url)
    for attempt in range(retries + 1):
        try:
            async with session.get(url, allow_redirects=False) as response:
                body = await _read_bounded(response)
                if len(body) > MAX_BODY_BYTES:
                    raise CheckError(
                        f"{shown} answered more than {MAX_BODY_BYTES // 1024} KiB: not a "
                        "what-is-my-pod response"
                    )
                return Answer(
                    url,
                    response.status,
                    body.decode("utf-8", errors="replace"),
                    response.headers.getall("Set-Cookie", []),
                )
        except aiohttp.ClientConnectorCertificateError as error:
            raise CheckError(
                f"{shown}: the server's certificate does not verify "
                f"({error_reason(error.certificate_error)}); give its CA with --ca-cert FILE, or "
                "--insecure to check without verifying"
            ) from None
        except aiohttp.ClientSSLError as error:
            raise CheckError(f"{shown}: TLS failed ({error_reason(error)})") from None
        except (aiohttp.ClientConnectorError, TimeoutError) as error:
            if attempt == retries:
                raise CheckError(f"{shown} is unreachable: {error_reason(error)}") from None
            await asyncio.sleep(0.1 * 2**attempt)
        except aiohttp.ClientPayloadError as error:
            raise CheckError(
                f"{shown}: the response body is broken ({error_reason(error)})"
            ) from None
        except aiohttp.ClientResponseError as error:
            # The parser's message: a reason, then the offending line quoted; the reason says it.
            lines = [
                line.split("b'")[0].strip().rstrip(":") for line in str(error.message).splitlines()
            ]
            reason = "; ".join(line for line in lines[:2] if line)
            raise CheckError(
                f"{shown}: a malformed HTTP response ({printable(reason or 'unreadable')})"
            ) from None
        except (aiohttp.ClientError, ValueError, OSError) as error:
            raise CheckError(f"{shown}: {error_reason(error)}") from None
    raise AssertionError("unreachable")  # the loop returns or raises
