"""The configuration table of docs/configuration.md, generated from the config models.

    python -m configuration.table           print the table
    python -m configuration.table --write   replace the table in docs/configuration.md

The table sits between the page's `<!-- config-table -->` and `<!-- /config-table -->`
markers; tests/test_docs.py fails when it differs from what the models say.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from configuration.base import IN_PLACE, PROJECT
from configuration.errors import model_fields
from configuration.sections import SECTION_MODELS

CONFIGURATION_PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
START, END = "<!-- config-table -->", "<!-- /config-table -->"


def _value(value: Any) -> str:
    return f"`{value if isinstance(value, str) else json.dumps(value)}`"


def _shown_default(field: FieldInfo) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "shown_default" in extra:
        return str(extra["shown_default"])
    default = field.get_default(call_default_factory=True)
    if default is None:
        return "none"
    if isinstance(default, BaseModel):  # resources: each set leaf, by its dotted key
        leaves = _leaves(default.model_dump(by_alias=True, exclude_none=True))
        return ", ".join(f"{key} {_value(value)}" for key, value in leaves)
    return _value(default)


def _leaves(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    leaves = []
    for key, value in data.items():
        if isinstance(value, dict):
            leaves += _leaves(value, f"{prefix}{key}.")
        else:
            leaves.append((f"{prefix}{key}", value))
    return leaves


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def config_table() -> str:
    rows = [
        "| key | field | default | accepted | on change | note |",
        "|---|---|---|---|---|---|",
    ]
    for section, model in SECTION_MODELS.items():
        for index, (name, field) in enumerate(model_fields(model).items()):
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            key = f"`{PROJECT}:{section}`" if index == 0 else ""
            cells = (
                key,
                f"`{name}`",
                _shown_default(field),
                field.description or "",
                str(extra.get("change", IN_PLACE)),
                str(extra.get("note", "")),
            )
            rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows) + "\n"


def page_table(readme: str) -> str:
    """The table as the page has it now, between its markers."""
    start, end = readme.index(START) + len(START), readme.index(END)
    return readme[start:end].strip("\n") + "\n"


def with_table(readme: str) -> str:
    start, end = readme.index(START) + len(START), readme.index(END)
    return readme[:start] + "\n" + config_table() + readme[end:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m configuration.table", description=__doc__)
    parser.add_argument(
        "--write", action="store_true", help="replace the table in docs/configuration.md"
    )
    args = parser.parse_args(argv)
    if args.write:
        CONFIGURATION_PAGE.write_text(with_table(CONFIGURATION_PAGE.read_text()))
        print(f"wrote the configuration table to {CONFIGURATION_PAGE.name}")
    else:
        print(config_table(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
