"""The affinity check against hostile and broken servers on 127.0.0.1, bad URLs and arguments,
and HTTPS behind a throwaway CA: it always ends with exit 0, 1 or 2 and one clear line."""

import gzip
import json
import shutil
import ssl
from pathlib import Path

import pytest

from tools.check_affinity import client
from tools.check_affinity.answers import EXIT_ERROR, EXIT_NOT_STICKY, EXIT_STICKY
from tools.check_affinity.command import main
from tools.local_servers.balancers import nginx
from tools.local_servers.hostile import Certificates, endless_body, raw_server, throwaway_ca
from tools.local_servers.pods import free_port, what_is_my_pod


def http(body: bytes, *headers: str, status: str = "200 OK", length: int | None = None) -> bytes:
    head = [f"HTTP/1.1 {status}", *headers]
    head.append(f"Content-Length: {len(body) if length is None else length}")
    head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


POD = b'Hello "pod-a"!\n'
COOKIE = "Set-Cookie: stickounet=abc; Path=/; HttpOnly"


def check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([*argv, "--requests", "3", "--clients", "0", "--timeout", "2"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if code == EXIT_ERROR:
        assert err.count("\n") == 1 and err.startswith("check_affinity: could not check:"), err
    return code, out, err


# Each row: what it proves, the server's raw answer, the exit code, words of the message.
HOSTILE = [
    ("bad status line", b"HTTP/1.1 abc OK\r\n\r\n", EXIT_ERROR, "malformed"),
    ("not HTTP at all", b"\x00\x01SSH-2.0-OpenSSH\r\n\r\n", EXIT_ERROR, "malformed"),
    ("body shorter than its length", http(b"Hello", length=100), EXIT_ERROR, "body"),
    (
        "broken gzip body",
        http(b"\x1f\x8bnot gzip at all", "Content-Encoding: gzip"),
        EXIT_ERROR,
        "body",
    ),
    (
        "oversize header",
        http(POD, "X-Big: " + "a" * 100_000),
        EXIT_ERROR,
        "malformed",
    ),
    (
        "Content-Length not a number",
        b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n" + POD,
        EXIT_ERROR,
        "malformed",
    ),
    ("endless body", endless_body(), EXIT_ERROR, "more than 64 KiB"),
    (
        "gzip bomb",
        http(gzip.compress(b"\0" * 50_000_000), "Content-Encoding: gzip"),
        EXIT_ERROR,
        "more than 64 KiB",
    ),
    ("hangs up without a word", b"", EXIT_ERROR, "could not check"),
    (
        "pod name with escape codes",
        http(b'Hello "pod\x1b[31m-a"!\n'),
        EXIT_ERROR,
        "not a what-is-my-pod response",
    ),
    ("a 503", http(b"busy", status="503 Service Unavailable"), EXIT_ERROR, "HTTP 503"),
    (
        "Secure cookie over http",
        http(POD, "Set-Cookie: stickounet=abc; Path=/; Secure"),
        EXIT_NOT_STICKY,
        "Secure but came over plain http",
    ),
    (
        "an attribute it does not know",
        http(POD, "Set-Cookie: stickounet=abc; Path=/; Partitioned; Priority=High"),
        EXIT_STICKY,
        "Partitioned",
    ),
    ("no cookie at all", http(POD), EXIT_NOT_STICKY, "cookie is missing"),
]


@pytest.mark.parametrize(
    ("answer", "code", "words"), [row[1:] for row in HOSTILE], ids=[row[0] for row in HOSTILE]
)
def test_a_hostile_server_gets_one_clear_line(
    answer: object, code: int, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with raw_server(answer) as port:  # type: ignore[arg-type]
        got, out, err = check([f"http://127.0.0.1:{port}/"], capsys)
    assert got == code, out + err
    assert words in out + err
    assert "\x1b" not in out + err  # control characters never reach the terminal


def test_a_password_in_the_url_is_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check([f"http://alice:hunter2@127.0.0.1:{free_port()}/"], capsys)
    assert code == EXIT_ERROR
    assert "hunter2" not in out + err and "alice" not in out + err


BAD_INPUT = [
    ("no host", ["http://"]),
    ("not http", ["ftp://127.0.0.1/"]),
    ("port out of range", ["http://127.0.0.1:99999/"]),
    ("unclosed IPv6", ["http://[::1"]),
    ("not a URL", ["not a url"]),
    ("timeout nan", ["http://127.0.0.1/", "--timeout", "nan"]),
    ("timeout inf", ["http://127.0.0.1/", "--timeout", "inf"]),
    ("timeout zero", ["http://127.0.0.1/", "--timeout", "0"]),
    ("timeout negative", ["http://127.0.0.1/", "--timeout", "-1"]),
    ("requests zero", ["http://127.0.0.1/", "--requests", "0"]),
    ("requests over the maximum", ["http://127.0.0.1/", "--requests", "10001"]),
    ("clients over the maximum", ["http://127.0.0.1/", "--clients", "1001"]),
    ("concurrency over the maximum", ["http://127.0.0.1/", "--concurrency", "101"]),
    ("requests not a number", ["http://127.0.0.1/", "--requests", "many"]),
    ("empty cookie name", ["http://127.0.0.1/", "--cookie-name", ""]),
    ("cookie name with a space", ["http://127.0.0.1/", "--cookie-name", "a b"]),
    ("CA and insecure together", ["https://127.0.0.1/", "--ca-cert", "x", "--insecure"]),
    ("connect to a host name", ["http://a.example/", "--connect-to", "lb.example.net"]),
    ("connect to an address with a port", ["http://a.example/", "--connect-to", "127.0.0.1:80"]),
    ("connect to an empty address", ["http://a.example/", "--connect-to", ""]),
]


@pytest.mark.parametrize("argv", [row[1] for row in BAD_INPUT], ids=[row[0] for row in BAD_INPUT])
def test_bad_urls_and_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1


# --- HTTPS behind a certificate from a CA the test makes ---------------------------------

TLS_POD = http(POD, "Set-Cookie: stickounet=abc; Path=/; Secure; HttpOnly")
needs_openssl = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="openssl is not installed (apt-get install openssl)"
)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A throwaway CA and the server certificate it signed, made once for these tests."""
    return throwaway_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def other_certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return throwaway_ca(tmp_path_factory.mktemp("other-ca"), name="other")


@needs_openssl
def test_https_is_verified_against_the_given_ca_and_reports_secure(
    certificates: Certificates, capsys: pytest.CaptureFixture[str]
) -> None:
    with raw_server(TLS_POD, tls=certificates.server_context()) as port:
        url = f"https://127.0.0.1:{port}/"
        code, out, _ = check([url, "--ca-cert", str(certificates.ca), "--json"], capsys)
    assert code == EXIT_STICKY
    report = json.loads(out)
    assert report["cookie"]["attributes"]["Secure"] is True
    assert report["warnings"] == []


def _counting_contexts(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    made: list[object] = []
    original = ssl.create_default_context

    def counted(*args: object, **kwargs: object) -> ssl.SSLContext:
        made.append(kwargs.get("cafile"))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl, "create_default_context", counted)
    return made


@needs_openssl
def test_one_tls_context_serves_every_client_of_a_run(
    certificates: Certificates, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Loading a CA store costs 20 to 80 ms of CPU: one per client stalled hundreds of them.
    client._ca_context.cache_clear()  # a run of its own, as a new process would start
    made = _counting_contexts(monkeypatch)
    with raw_server(TLS_POD, tls=certificates.server_context()) as port:
        url = f"https://127.0.0.1:{port}/"
        argv = [url, "--ca-cert", str(certificates.ca), "--requests", "5", "--clients", "20"]
        code = main(argv)
    assert code == EXIT_STICKY, capsys.readouterr().err
    assert made == [str(certificates.ca)]


def test_plain_http_builds_no_tls_context(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _counting_contexts(monkeypatch)
    with raw_server(http(POD, "Set-Cookie: stickounet=abc; Path=/")) as port:
        code = main([f"http://127.0.0.1:{port}/", "--requests", "5", "--clients", "20"])
    assert code == EXIT_STICKY, capsys.readouterr().err
    assert made == []


@needs_openssl
def test_https_without_the_ca_is_refused_with_a_certificate_message(
    certificates: Certificates, other_certificates: Certificates, capsys: pytest.CaptureFixture[str]
) -> None:
    other = other_certificates
    with raw_server(TLS_POD, tls=certificates.server_context()) as port:
        url = f"https://127.0.0.1:{port}/"
        for argv in ([url], [url, "--ca-cert", str(other.ca)]):
            code, _, err = check(argv, capsys)
            assert code == EXIT_ERROR
            assert "certificate does not verify" in err and "--ca-cert" in err


@needs_openssl
def test_insecure_checks_anyway_and_says_so(
    certificates: Certificates, capsys: pytest.CaptureFixture[str]
) -> None:
    with raw_server(TLS_POD, tls=certificates.server_context()) as port:
        code, out, _ = check([f"https://127.0.0.1:{port}/", "--insecure"], capsys)
    assert code == EXIT_STICKY
    assert "NOT verified" in out


def test_a_ca_file_that_is_not_a_certificate_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    code, _, err = check(["https://127.0.0.1:1/", "--ca-cert", str(bogus)], capsys)
    assert code == EXIT_ERROR and "--ca-cert" in err


# --- nginx terminating TLS in front of what-is-my-pod look-alikes, cookie affinity --------------

needs_nginx = pytest.mark.skipif(
    shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx)"
)


@needs_openssl
@needs_nginx
def test_behind_nginx_over_tls_sticky_secure_wrong_ca_and_insecure(
    certificates: Certificates, other_certificates: Certificates, capsys: pytest.CaptureFixture[str]
) -> None:
    other = other_certificates
    with (
        what_is_my_pod(["pod-a", "pod-b", "pod-c"]) as pods,
        nginx(pods, "stickounet", certificates) as port,
    ):
        url = f"https://127.0.0.1:{port}/"
        code, out, _ = check([url, "--ca-cert", str(certificates.ca), "--json"], capsys)
        assert code == EXIT_STICKY
        report = json.loads(out)
        assert report["cookie"]["attributes"]["Secure"] is True
        assert len(report["sticky"]["pods"]) == 1

        code, _, err = check([url, "--ca-cert", str(other.ca)], capsys)
        assert code == EXIT_ERROR and "certificate does not verify" in err

        code, out, _ = check([url, "--insecure"], capsys)
        assert code == EXIT_STICKY and "NOT verified" in out
