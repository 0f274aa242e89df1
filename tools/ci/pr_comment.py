"""Post the offline preview diff on a pull request as one comment, updated on every push rather
than added again (`.github/workflows/preview-diff.yml`):

    python -m tools.ci.pr_comment FILE.md

The comment is the one of this repository's pull request that starts with the diff's marker
line; without one, a new comment is made. Reads GITHUB_TOKEN, GITHUB_REPOSITORY, the pull
request's number (PR_NUMBER) and GITHUB_API_URL from the environment, as the workflow sets them.
The token is sent to the API only, never printed. Several stacks' diffs joined in one file are
cut to what a comment holds, as one diff is. A token that may not write (a fork's pull
request) is not an error: the diff is in the job's summary, and the step says so and exits 0.
Exit codes: 0 posted, updated or not allowed; 2 bad input or an API error.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tools.preview.diff_command import MARKER, bounded

PAGES = 20  # 100 comments each: a pull request with more than 2,000 comments gets a new one
TIMEOUT = 30.0


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _call(api: str, token: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{api.rstrip('/')}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise ApiError(error.code, f"{method} {path}: HTTP {error.code}") from None
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as error:
        raise ApiError(0, f"{method} {path}: {error}") from None


def post(body: str, env: Mapping[str, str]) -> str:
    """Update the pull request's diff comment, or make it; say which."""
    token, repository = env.get("GITHUB_TOKEN", ""), env.get("GITHUB_REPOSITORY", "")
    number, api = env.get("PR_NUMBER", ""), env.get("GITHUB_API_URL", "https://api.github.com")
    if not token or repository.count("/") != 1 or not number.isdigit():
        raise ValueError("set GITHUB_TOKEN, GITHUB_REPOSITORY (owner/name) and PR_NUMBER")
    if not body.startswith(MARKER):
        raise ValueError(f"the comment must start with the marker line {MARKER}")
    issue = f"/repos/{repository}/issues/{number}"
    for page in range(1, PAGES + 1):
        comments = _call(api, token, "GET", f"{issue}/comments?per_page=100&page={page}")
        for comment in comments or []:
            if str(comment.get("body", "")).startswith(MARKER):
                _call(api, token, "PATCH", f"/repos/{repository}/issues/comments/{comment['id']}",
                      {"body": body})  # fmt: skip
                return f"updated comment {comment['id']}"
        if len(comments or []) < 100:
            break
    created = _call(api, token, "POST", f"{issue}/comments", {"body": body})
    return f"made comment {created.get('id')}"


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 1:
        print("pr_comment: give one Markdown file", file=sys.stderr)
        return 2
    try:
        body = bounded(Path(arguments[0]).read_text(encoding="utf-8"))
        print(f"pr_comment: {post(body, env)}")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        print(f"pr_comment: {error}", file=sys.stderr)
        return 2
    except ApiError as error:
        if error.status in (403, 404):  # a fork's read-only token, or no access
            print(f"pr_comment: not allowed to comment ({error}); the diff is in the job summary")
            return 0
        print(f"pr_comment: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
