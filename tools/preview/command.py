"""Offline preview: what a stack declares, without an OVHcloud account or the Pulumi CLI.

    python -m tools.preview [--stack dev] [--set KEY=VALUE ...] [--out DIR] [--json]
                            [--diff BASE [--json | --markdown]]

Runs __main__.py under the project's mocks (mocks.py) with the stack's configuration as the CLI
would pass it. Exit codes: 0 success, 2 invalid configuration or arguments, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import yaml

from configuration.cli import BadOverride, StackFileError, StackNotFound, parse_override
from configuration.errors import ConfigError
from tools.preview import diff_command
from tools.preview.charts import Rendered, as_json, render_run, tree_lines
from tools.preview.charts import output_files as rendered_files
from tools.preview.diff import CannotCompare, compare
from tools.preview.highlights import highlights
from tools.preview.mocks import PROJECT_DIR, run_program
from tools.preview.recorded import (
    SECRET_MASK,
    ProgramRun,
    Registration,
    kubernetes_objects,
    manifest,
    plain,
)

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
OUTPUT_INDEX = ".preview-files"  # what the last --out wrote, so a re-run removes only that
# The order `kubectl apply` needs: namespaces before what lives in them, the Ingress last.
APPLY_ORDER = ("Namespace", "ServiceAccount", "ConfigMap", "Secret", "Service", "Deployment")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line and exit 2, like every other bad input
        raise UsageError(f"{message} (see --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m tools.preview",
        description="Show what a stack declares, offline (OVHcloud and Kubernetes are mocked).",
    )
    parser.add_argument("--stack", default="dev", help="stack name: Pulumi.<stack>.yaml")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override config like `pulumi config set --path`, e.g. sticky-sessions:app.replicas=5",
    )
    parser.add_argument("--out", type=Path, help="write manifests, Helm values and graph.md here")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON document")
    output.add_argument("--markdown", action="store_true", help="with --diff: for a PR comment")
    parser.add_argument(
        "--diff",
        metavar="BASE",
        help="what changes against BASE: a saved --json document or a git ref (exit 1 if any)",
    )
    return parser


def _tree(run: ProgramRun, rendered: Rendered) -> list[str]:
    names = {r.urn: r.name for r in run.resources}
    children: dict[str, list[Registration]] = {}
    for resource in run.resources:
        children.setdefault(resource.parent, []).append(resource)
    roots = [r for r in run.resources if r.parent not in names]
    stack_name = f"{run.config.project}-{run.config.stack}"
    lines = [f"+ pulumi:pulumi:Stack {stack_name}"]

    def walk(resource: Registration, indent: str, last: bool) -> None:
        branch = "└─ " if last else "├─ "
        marker = ">" if resource.read else "+"
        flags = " [protected]" if resource.protect else ""
        lines.append(f"{indent}{branch}{marker} {resource.type} {resource.name}{flags}")
        below = indent + ("   " if last else "│  ")
        details = highlights(resource)
        waits = sorted(names[d] for d in resource.dependencies if d in names)
        if waits:
            details.append("waits for: " + ", ".join(waits))
        kids = children.get(resource.urn, [])
        details += tree_lines(rendered.objects.get(resource.urn, []))
        for detail in details:
            lines.append(f"{below}{'│  ' if kids else '   '}  {detail}")
        for index, child in enumerate(kids):
            walk(child, below, index == len(kids) - 1)

    for index, root in enumerate(roots):
        walk(root, "", index == len(roots) - 1)
    return lines


def _masked_outputs(run: ProgramRun) -> dict[str, Any]:
    return {
        name: SECRET_MASK if name in run.secret_outputs else plain(value)
        for name, value in run.outputs.items()
    }


def _masked_config(run: ProgramRun) -> dict[str, str]:
    return {
        key: SECRET_MASK if key in run.config.secret_keys else value
        for key, value in sorted(run.config.values.items())
    }


def _record_to_create(run: ProgramRun) -> list[str]:
    """Without dns.zone the stack writes no record: say which one to create by hand."""
    record = run.outputs.get("dnsRecord")
    if record is None or run.of_type("ovh:Domain/zoneRecord:ZoneRecord"):
        return []
    return [f"Note: create this DNS record by hand (no sticky-sessions:dns.zone): {record}"]


def render_text(run: ProgramRun, rendered: Rendered | None = None) -> str:
    rendered = rendered or Rendered()
    lines = [
        f"Previewing stack {run.config.stack} of {run.config.project} offline "
        "(OVHcloud and the cluster are answered by mocks; nothing is created).",
        "",
        "Config:",
        *(f"    {key}: {value}" for key, value in _masked_config(run).items()),
        "",
        "Resources (+ create, > read):",
        *_tree(run, rendered),
        "",
        "Warnings:" if run.warnings() else "Warnings: none",
        *(f"    {warning}" for warning in run.warnings()),
        *_record_to_create(run),
        *(f"Note: {note}" for note in [*run.notes, *rendered.notes]),
        "",
        "Outputs:",
        *(f"    {name}: {value}" for name, value in _masked_outputs(run).items()),
        "",
        f"{len(run.resources)} resources, {rendered.count} objects rendered by Helm, "
        f"{len(run.outputs)} outputs.",
    ]
    return "\n".join(lines)


def render_json(run: ProgramRun, rendered: Rendered | None = None) -> str:
    return json.dumps(document(run, rendered), indent=2, sort_keys=False)


def document(run: ProgramRun, rendered: Rendered | None = None) -> dict[str, Any]:
    """The preview as one JSON document (`--json`), what `--diff` compares."""
    rendered = rendered or Rendered()
    return {
        "project": run.config.project,
        "stack": run.config.stack,
        "config": _masked_config(run),
        "secretFingerprints": dict(sorted(run.config.secret_fingerprints.items())),
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent or None,
                "component": not r.custom,
                "read": r.read,
                "protect": r.protect,
                "provider": r.provider_urn or None,
                "dependencies": sorted(r.dependencies),
                "replaceOnChanges": r.replace_on_changes,
                "aliases": r.aliases,
                "inputs": plain(r.inputs),
            }
            for r in run.resources
        ],
        "outputs": _masked_outputs(run),
        "secretOutputs": sorted(run.secret_outputs),
        "warnings": run.warnings(),
        "notes": [*run.notes, *rendered.notes],
        "rendered": as_json(run, rendered),
    }


# --- files for reviewers and diffs --------------------------------------------------------


def _kind_rank(kind: str) -> int:
    return APPLY_ORDER.index(kind) if kind in APPLY_ORDER else len(APPLY_ORDER)


def output_files(run: ProgramRun, rendered: Rendered | None = None) -> dict[str, str]:
    """File name -> content: one manifest per object (apply order), Helm values, what each
    release renders (helm-<release>-*.yaml), graph.md."""
    objects = sorted(
        enumerate(manifest(r) for r in kubernetes_objects(run)),
        key=lambda pair: (_kind_rank(pair[1]["kind"]), pair[0]),
    )
    files: dict[str, str] = {}
    for position, (_, obj) in enumerate(objects, start=1):
        metadata = obj["metadata"]
        parts = [obj["kind"].lower(), metadata.get("namespace"), metadata["name"]]
        name = f"{position:02d}-" + "-".join(p for p in parts if p) + ".yaml"
        files[name] = yaml.safe_dump(obj, sort_keys=False)
    for release in run.of_type("kubernetes:helm.sh/v3:Release"):
        inputs = plain(release.inputs)
        header = (
            f"# Helm values of release {inputs['name']} (namespace {inputs.get('namespace')})\n"
            f"# chart: {inputs['chart']}  version: {inputs['version']}  "
            f"repo: {(inputs.get('repositoryOpts') or {}).get('repo')}\n"
        )
        body = yaml.safe_dump(inputs.get("values") or {}, sort_keys=False)
        files[f"values-{inputs['name']}.yaml"] = header + body
    files |= rendered_files(run, rendered or Rendered())
    files["graph.md"] = render_graph(run)
    return files


def render_graph(run: ProgramRun) -> str:
    ids = {r.urn: f"r{i}" for i, r in enumerate(run.resources)}
    lines = [
        f"# Resource dependencies of stack {run.config.stack}",
        "",
        "An arrow points from a resource to one that waits for it; dotted arrows show the",
        "provider a resource is deployed through.",
        "",
        "```mermaid",
        "flowchart TD",
    ]
    for resource in run.resources:
        short_type = resource.type.split(":")[-1].split("/")[-1]
        lines.append(f'  {ids[resource.urn]}["{short_type}<br/>{resource.name}"]')
    for resource in run.resources:
        for dependency in resource.dependencies:
            if dependency in ids:
                lines.append(f"  {ids[dependency]} --> {ids[resource.urn]}")
        if resource.provider_urn in ids:
            lines.append(f"  {ids[resource.provider_urn]} -.-> {ids[resource.urn]}")
    lines += ["```", ""]
    return "\n".join(lines)


def write_output(directory: Path, files: dict[str, str]) -> None:
    """Write `files` into `directory`, removing what the previous run wrote and nothing else."""
    directory.mkdir(parents=True, exist_ok=True)
    index = directory / OUTPUT_INDEX
    if index.is_file():
        for previous in index.read_text().splitlines():
            stale = directory / previous
            if previous and "/" not in previous and stale.is_file():
                stale.unlink()
    for name, content in files.items():
        (directory / name).write_text(content)
    index.write_text("".join(f"{name}\n" for name in sorted(files)))


# --- the command ----------------------------------------------------------------------------


def _diff(args: argparse.Namespace, head: dict[str, Any], project_dir: Path) -> int:
    try:
        base = diff_command.base_document(args.diff, args.stack, args.set, project_dir)
        label = (
            f"{args.diff} (a saved preview of stack {base.get('stack')})"
            if Path(args.diff).is_file()
            else f"{args.diff} (stack {args.stack})"
        )
        diff = compare(base, head, label, f"the working tree (stack {args.stack})")
    except CannotCompare as error:
        print(f"preview: cannot compare: {error}", file=sys.stderr)
        return EXIT_INVALID
    if args.json:
        print(json.dumps(diff_command.as_json(diff), indent=2))
    elif args.markdown:
        print(diff_command.render_markdown(diff))
    else:
        print(diff_command.render_text(diff))
    return diff.exit_code


def main(argv: Sequence[str] | None = None, project_dir: Path = PROJECT_DIR) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.markdown and args.diff is None:
            raise UsageError("--markdown goes with --diff BASE")
        overrides = dict(parse_override(item) for item in args.set)
        run = run_program(args.stack, overrides, project_dir=project_dir)
    except (UsageError, BadOverride, StackFileError) as error:
        print(f"preview: {error}", file=sys.stderr)
        return EXIT_INVALID
    except StackNotFound as error:
        print(f"preview: {error}", file=sys.stderr)
        return EXIT_FAILED
    if run.error is not None:
        message = str(run.error)
        if isinstance(run.error, ConfigError):
            print(f"preview: stack {args.stack}: {message}", file=sys.stderr)
            return EXIT_INVALID
        cause = message.splitlines()[0] if message else type(run.error).__name__
        print(f"preview: the program failed: {cause}", file=sys.stderr)
        return EXIT_INVALID if args.diff is not None else EXIT_FAILED
    rendered = render_run(run)
    if args.diff is not None:
        return _diff(args, document(run, rendered), project_dir)
    if args.out is not None:
        try:
            write_output(args.out, output_files(run, rendered))
        except OSError as error:
            print(f"preview: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
            return EXIT_FAILED
    print(render_json(run, rendered) if args.json else render_text(run, rendered))
    if args.out is not None and not args.json:
        print(f"Wrote manifests, Helm values, rendered charts and graph.md to {args.out}/")
    return EXIT_OK
