"""What the checker prints stays short and never holds a password (#24): a user:password in a
URL that does not parse, a server's huge cookie attribute, a hundred cookies; in the text, the
JSON and the watch's report alike."""

from __future__ import annotations

import json

import pytest

from tools.check_affinity.answers import EXIT_ERROR, EXIT_STICKY
from tools.check_affinity.command import main
from tools.local_servers.hostile import raw_server

SECRET = "hunter2"
BROKEN_URLS = [
    f"http://admin:{SECRET}@[::1",
    f"http://admin:{SECRET}@exa mple.com/",
    f"http://admin:{SECRET}@127.0.0.1:99999/",
    f"ht!tp://admin:{SECRET}@example.com/",
    f"http://admin:{SECRET}@@example.com/",
    f"http://admin:{SECRET}@[bad/",
    f"http://admin:{SECRET}/@example.com/",
    f"http://admin:{SECRET}@example.com:port/",
    f"https://:{SECRET}@[::1]:70000/",
    f"http://user@{SECRET}@[/",
    f"http://admin:{SECRET}@\x1b[31m/",
    f"//admin:{SECRET}@example.com/",
]


@pytest.mark.parametrize("url", BROKEN_URLS)
def test_a_password_in_a_url_that_does_not_parse_is_never_printed(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for extra in ([], ["--json"], ["--watch", "1"]):
        assert main([url, "--requests", "1", "--clients", "0", *extra]) == EXIT_ERROR
        out, err = capsys.readouterr()
        assert SECRET not in out + err and "Traceback" not in out + err
        assert len(err.splitlines()) == 1


POD = b'Hello "pod-a"!\n'


def answer(*set_cookies: str) -> bytes:
    head = ["HTTP/1.1 200 OK", *(f"Set-Cookie: {c}" for c in set_cookies)]
    head += [f"Content-Length: {len(POD)}", "Connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + POD


COOKIES = {
    "a huge path": ["stickounet=abc; Path=/" + "p" * 3000],
    "a huge unknown attribute": ["stickounet=abc; Path=/; Foo=" + "x" * 5000],
    "a hundred cookies": [f"c{i}=v{i}; Path=/" for i in range(100)] + ["stickounet=abc; Path=/"],
    "a long but accepted attribute": ["stickounet=abc; Path=/" + "q" * 900],
    "control characters": ["stickounet=abc; Path=/\x1b[2J; Domain=\x07x"],
}


@pytest.mark.parametrize("cookies", COOKIES.values(), ids=COOKIES.keys())
def test_a_server_s_cookie_data_prints_as_short_lines(
    cookies: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with raw_server(answer(*cookies)) as port:
        for extra in ([], ["--json"]):
            code = main([f"http://127.0.0.1:{port}/", "--requests", "2", "--clients", "0", *extra])
            out, err = capsys.readouterr()
            assert code == EXIT_STICKY, err
            assert all(len(line) <= 300 for line in (out + err).splitlines()), max(
                len(line) for line in (out + err).splitlines()
            )
            assert "\x1b" not in out + err and "\x07" not in out + err
            if extra:
                report = json.loads(out)
                assert len(report["cookie"]["cookiesSet"]) <= 21
    if "p" * 3000 in cookies[0]:
        assert "ignored by browsers: 3001 octets" in out
