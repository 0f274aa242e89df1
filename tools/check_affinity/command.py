"""Session-affinity check: the tutorial's curl loop with a cookie jar, as one command.

    python -m tools.check_affinity [URL] [--stack NAME] [--cookie-name NAME] [--requests N]
                                   [--clients M] [--concurrency C] [--timeout S]
                                   [--ca-cert FILE | --insecure] [--json]
                                   [--watch S [--sessions N] [--interval I] [--report F.html]]

Stickiness: one client with a cookie jar makes N requests; every response must name the same
pod and the first must set the expected cookie. Spread: M fresh clients without cookies, to see
whether the load balancer spreads new sessions over pods at all.

Exit codes: 0 sticky (and the expected cookie set); 1 not sticky, the expected cookie missing,
or a Secure cookie received over plain http; 2 could not check: unreachable, bad arguments, a
malformed or oversized response, a certificate that does not verify, or a response that is not
from what-is-my-pod. Whatever answers, the check ends with one of these and one clear line.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from tqdm import tqdm
from yarl import URL

# The stack's default; the stack's `cookieName` output wins when the URL comes from a stack.
from configuration.sections import DEFAULT_COOKIE_NAME
from tools.check_affinity.answers import EXIT_ERROR, CheckError, printable, shown_url
from tools.check_affinity.client import Connection, error_reason
from tools.check_affinity.probe import probe, render_text

MAX_REQUESTS, MAX_CLIENTS, MAX_CONCURRENCY, MAX_TIMEOUT = 10_000, 1_000, 100, 300.0


def stack_outputs(stack: str | None) -> dict[str, Any]:
    """The stack's outputs through the Pulumi CLI (secrets stay masked: no --show-secrets)."""
    if shutil.which("pulumi") is None:
        raise CheckError(
            "no URL given and the Pulumi CLI is not installed to read the stack's `url` output: "
            "pass the URL, e.g. python -m tools.check_affinity http://203.0.113.10"
        )
    command = ["pulumi", "stack", "output", "--json"] + (["--stack", stack] if stack else [])
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        raise CheckError("`pulumi stack output` did not answer within 60 s") from None
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise CheckError(f"`{' '.join(command)}` failed: {printable(reason, limit=160)}")
    try:
        outputs = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        raise CheckError(f"`{' '.join(command)}` printed something that is not JSON") from None
    if not isinstance(outputs, dict):
        raise CheckError(f"`{' '.join(command)}` printed no outputs object")
    return outputs


def _bounded(kind: type, minimum: float, maximum: float) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{printable(text)!r} is not a number") from None
        if not math.isfinite(value) or not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"{printable(text)!r} must be from {minimum} to {maximum}"
            )
        return value

    return parse


def _cookie_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._~-]{1,64}", text, flags=re.ASCII):
        raise argparse.ArgumentTypeError(
            f"{printable(text)!r} is not a cookie name (1 to 64 of A-Z a-z 0-9 . _ ~ -)"
        )
    return text


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CheckError(f"{message} (see --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tools.check_affinity", description=__doc__.split("\n")[0])
    parser.add_argument("url", nargs="?", help="default: the stack's `url` output")
    parser.add_argument("--stack", help="the stack whose outputs give the URL and cookie name")
    parser.add_argument(
        "--cookie-name",
        type=_cookie_name,
        help=f"default: the stack's `cookieName`, else {DEFAULT_COOKIE_NAME}",
    )
    parser.add_argument(
        "--requests",
        type=_bounded(int, 1, MAX_REQUESTS),
        default=20,
        metavar="N",
        help=f"requests of the sticky client (1 to {MAX_REQUESTS})",
    )
    parser.add_argument(
        "--clients",
        type=_bounded(int, 0, MAX_CLIENTS),
        default=10,
        metavar="M",
        help=f"fresh clients for the spread (0 to {MAX_CLIENTS})",
    )
    parser.add_argument(
        "--concurrency",
        type=_bounded(int, 1, MAX_CONCURRENCY),
        default=10,
        metavar="C",
        help=f"requests at once (1 to {MAX_CONCURRENCY})",
    )
    parser.add_argument(
        "--timeout",
        type=_bounded(float, 0.001, MAX_TIMEOUT),
        default=5.0,
        metavar="S",
        help=f"seconds per request (finite, up to {MAX_TIMEOUT:g})",
    )
    parser.add_argument(
        "--watch", type=float, metavar="SECONDS", help="watch sessions for SECONDS instead"
    )
    parser.add_argument("--sessions", type=int, default=20, metavar="N", help="with --watch")
    parser.add_argument(
        "--interval", type=float, default=1.0, metavar="S", help="with --watch: seconds"
    )
    parser.add_argument(
        "--report", type=Path, metavar="FILE.html", help="with --watch: also write the picture"
    )
    parser.add_argument(
        "--connect-to",
        type=_address,
        metavar="ADDRESS",
        help="connect to this IP address, keeping the URL's host name (as curl --resolve): "
        "such as the stack's migrationTestAddress",
    )
    verification = parser.add_mutually_exclusive_group()
    verification.add_argument(
        "--ca-cert", type=Path, metavar="FILE", help="verify https against this CA (PEM)"
    )
    verification.add_argument(
        "--insecure", action="store_true", help="https without verifying the certificate"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{printable(value)!r} is not an IP address, such as 203.0.113.20"
        ) from None


def _checked_url(url: str) -> str:
    try:
        parsed = URL(url)
        port = parsed.port  # yarl refuses a port out of range here
    except (ValueError, TypeError):
        raise CheckError(f"{shown_url(url)!r} is not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host or port is None:
        raise CheckError(f"{shown_url(url)!r} is not an http:// or https:// URL")
    return url


def _watch(args: argparse.Namespace, url: str, cookie_name: str) -> int:
    from tools.check_affinity.watch import bounds_problem, watch_sessions
    from tools.check_affinity.watch_html import write_report
    from tools.check_affinity.watch_text import render_text

    problem = bounds_problem(args.watch, args.sessions, args.interval)
    if problem is not None:
        raise CheckError(f"{problem} (see --help)")
    if args.report is not None:
        _writable(args.report)
    watch = asyncio.run(
        watch_sessions(
            url,
            cookie_name,
            args.watch,
            args.sessions,
            args.interval,
            args.timeout,
            Connection(args.ca_cert, args.insecure, args.connect_to),
            live=sys.stderr.isatty() and not args.json,
        )
    )
    if args.report is not None:
        try:
            write_report(watch, args.report)
        except OSError as error:
            raise CheckError(f"--report {printable(str(args.report))}: {error.strerror}") from None
    print(json.dumps(watch.as_json(), indent=2) if args.json else render_text(watch))
    if watch.exit_code == EXIT_ERROR:  # not "every session kept its pod": nothing was answered
        how = (
            "interrupted (Ctrl-C)"
            if watch.interrupted
            else "watch longer than --interval and the time a request takes"
        )
        print(
            f"check_affinity: could not check: the watch ended after {watch.elapsed:.1f} s, "
            f"before any session had an answer: {how}",
            file=sys.stderr,
        )
    return watch.exit_code


def _writable(path: Path) -> None:
    """Refuse a report path before the watch, not after it: one line, the reason."""
    shown = printable(str(path))
    if path.suffix.lower() not in (".html", ".htm"):
        raise CheckError(f"--report {shown}: name an .html file")
    if path.is_dir():
        raise CheckError(f"--report {shown}: is a folder; name an .html file")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CheckError(f"--report {shown}: the folder {printable(str(folder))} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CheckError(f"--report {shown}: not writable here")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        url, cookie_name = args.url, args.cookie_name
        if url is None or cookie_name is None:
            outputs = stack_outputs(args.stack) if url is None else {}
            url = url or outputs.get("url")
            if cookie_name is None:
                stack_cookie = outputs.get("cookieName")
                try:
                    cookie_name = _cookie_name(str(stack_cookie or DEFAULT_COOKIE_NAME))
                except argparse.ArgumentTypeError as error:
                    raise CheckError(f"the stack's cookieName output: {error}") from None
            if not url or not isinstance(url, str):
                raise CheckError("the stack has no `url` output: pass the URL")
        url = _checked_url(str(url))
        if args.watch is not None:
            return _watch(args, url, cookie_name)
        with tqdm(
            total=args.requests + args.clients,
            desc="requests",
            unit="req",
            disable=None,
            file=sys.stderr,
            leave=False,
        ) as progress:
            report = asyncio.run(
                probe(
                    url,
                    cookie_name,
                    args.requests,
                    args.clients,
                    args.concurrency,
                    args.timeout,
                    progress,
                    Connection(args.ca_cert, args.insecure, args.connect_to),
                )
            )
    except CheckError as error:
        print(f"check_affinity: could not check: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:  # Ctrl-C during the check (the watch handles it itself)
        print("check_affinity: could not check: interrupted (Ctrl-C)", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # whatever answered, one line and exit 2, never a traceback
        print(
            f"check_affinity: could not check: {type(error).__name__}: {error_reason(error)}",
            file=sys.stderr,
        )
        return EXIT_ERROR
    print(json.dumps(report.as_json(), indent=2) if args.json else render_text(report))
    return report.exit_code
