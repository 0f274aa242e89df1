"""`python -m tools.preview [--stack S] [--set K=V ...] --diff BASE [--json | --markdown]`: what
the working tree's preview changes against BASE, a saved `--json` document or a git ref of this
repository (its preview is run from that commit's files, with the same stack and `--set`).

Text for a terminal, `--json`, or `--markdown` for a pull request comment (a summary first, then
the details, cut to MARKDOWN_LIMIT characters). Exit codes: 0 no change, 1 changes, 2 cannot
compare (BASE is neither a preview document nor a commit, or a side's preview failed).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from tools.preview.diff import ABSENT, CannotCompare, Change, Diff

MARKDOWN_LIMIT = 60_000  # a GitHub comment holds 65,536 characters
SHOWN_VALUE = 160  # characters of one value in the text and Markdown
MARKER = "<!-- sticky-sessions preview diff -->"  # the workflow updates the comment bearing it
PREVIEW_TIMEOUT = 900.0
SECTIONS = {
    "config": "Config",
    "resources": "Resources",
    "objects": "Objects rendered by the Helm charts",
    "outputs": "Outputs",
}
SYMBOL = {"add": "+", "remove": "-", "update": "~", "replace": "+-"}


def base_document(base: str, stack: str, sets: list[str], project_dir: Path) -> dict[str, Any]:
    """BASE as a preview document: a saved one, or the preview run from a commit's files."""
    path = Path(base)
    if path.is_file():
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CannotCompare(f"{base}: not a JSON document ({error})") from None
        if not isinstance(document, dict):
            raise CannotCompare(f"{base}: not a preview document")
        return document
    commit = _git(project_dir, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    if commit is None:
        raise CannotCompare(f"{base!r} is neither a file nor a commit of this repository")
    archive = subprocess.run(
        ["git", "-C", str(project_dir), "archive", "--format=tar", commit.strip()],
        capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    if archive.returncode != 0:
        raise CannotCompare(f"git archive {base} failed")
    with tempfile.TemporaryDirectory(prefix="preview-base-") as folder:
        try:
            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                tar.extractall(folder, filter="data")  # nothing lands outside the folder
        except tarfile.TarError as error:
            raise CannotCompare(f"the files of {base} cannot be unpacked: {error}") from None
        cache = project_dir / ".cache"  # Helm, installed once, serves both sides
        if cache.is_dir():
            os.symlink(cache, Path(folder) / ".cache")
        command = [sys.executable, "-m", "tools.preview", "--stack", stack, "--json"]
        for item in sets:
            command += ["--set", item]
        try:
            result = subprocess.run(
                command, cwd=folder, capture_output=True, text=True, check=False,
                timeout=PREVIEW_TIMEOUT,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise CannotCompare(
                f"the preview at {base} took more than {PREVIEW_TIMEOUT:g} s"
            ) from None
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise CannotCompare(f"the preview at {base} failed: {reason[:300]}")
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise CannotCompare(f"the preview at {base} printed no JSON document") from None
    return document if isinstance(document, dict) else {}


def _git(project_dir: Path, *arguments: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(project_dir), *arguments],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def shown(value: Any) -> str:
    text = value if value == ABSENT else json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(text))
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 1] + "…"


def summary(diff: Diff) -> str:
    if not diff.changes:
        return f"No change against {diff.base}."
    parts = []
    for section, title in SECTIONS.items():
        count = diff.count(section)
        if count:
            replaced = diff.count(section, "replace")
            extra = f" ({replaced} replaced)" if replaced else ""
            parts.append(f"{count} {title.lower().split(' rendered')[0]}{extra}")
    return f"Against {diff.base}: " + ", ".join(parts) + " changed."


def _change_lines(change: Change) -> list[str]:
    if [f.path for f in change.fields] == [change.label]:  # a config key or an output
        only = change.fields[0]
        return [f"{SYMBOL[change.action]} {change.label}: {shown(only.old)} -> {shown(only.new)}"]
    how = f" (replaced: {', '.join(change.replaced_by)} changed)" if change.replaced_by else ""
    lines = [f"{SYMBOL[change.action]} {change.label}{how}"]
    lines += [f"    {f.path}: {shown(f.old)} -> {shown(f.new)}" for f in change.fields]
    lines += [f"    note: {note}" for note in change.notes]
    return lines


def render_text(diff: Diff) -> str:
    lines = [f"Preview diff: {diff.head} against {diff.base}", summary(diff)]
    for section, title in SECTIONS.items():
        changes = [c for c in diff.changes if c.section == section]
        if changes:
            lines += ["", f"{title}:"]
            lines += [f"  {line}" for change in changes for line in _change_lines(change)]
    lines += [f"Note: {note}" for note in diff.notes]
    return "\n".join(lines)


def render_markdown(diff: Diff) -> str:
    head = [MARKER, f"### Offline preview: {diff.head}", "", f"**{summary(diff)}**", ""]
    if diff.changes:
        head += ["| | added | removed | changed | replaced |", "|---|---|---|---|---|"]
        for section, title in SECTIONS.items():
            counts = [diff.count(section, action) for action in ("add", "remove", "update")]
            if any(counts) or diff.count(section, "replace"):
                head.append(
                    f"| {title} | {counts[0]} | {counts[1]} | {counts[2]} "
                    f"| {diff.count(section, 'replace')} |"
                )
    head += [f"> {note}" for note in diff.notes]
    body: list[str] = []
    for section, title in SECTIONS.items():
        changes = [c for c in diff.changes if c.section == section]
        if changes:
            lines = [line for change in changes for line in _change_lines(change)]
            text = "\n".join(lines).replace("```", "'''")
            body += [f"<details><summary>{title} ({len(changes)})</summary>", "", "```diff",
                     text, "```", "</details>", ""]  # fmt: skip
    return bounded("\n".join(head) + "\n\n" + "\n".join(body))


def bounded(document: str, limit: int = MARKDOWN_LIMIT) -> str:
    """The Markdown cut to `limit` characters where a line ends, its code fence and folded
    section closed, and a note saying so."""
    if len(document) <= limit:
        return document
    cut = document[: limit - 300]
    cut = cut[: cut.rfind("\n")]
    if cut.count("```") % 2:
        cut += "\n```"
    if cut.count("<details>") > cut.count("</details>"):
        cut += "\n</details>"
    return (
        cut + "\n\n**Cut here: the diff is longer than a comment holds. "
        "`python -m tools.preview --diff` prints it whole.**\n"
    )


def as_json(diff: Diff) -> dict[str, Any]:
    return {
        "base": diff.base,
        "head": diff.head,
        "summary": summary(diff),
        "changes": [
            {
                "section": c.section,
                "label": c.label,
                "action": c.action,
                "replacedBy": c.replaced_by,
                "fields": [{"path": f.path, "old": f.old, "new": f.new} for f in c.fields],
                "notes": c.notes,
            }
            for c in diff.changes
        ],
        "notes": diff.notes,
        "exitCode": diff.exit_code,
    }
