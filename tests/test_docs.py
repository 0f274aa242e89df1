"""The docs say what the code does: the configuration table is the models' own, the README is
short and links every page, and no link is broken."""

import re
from pathlib import Path

import pytest

from configuration.cli import PROJECT_DIR
from configuration.errors import model_fields
from configuration.sections import SECTION_MODELS
from configuration.table import CONFIGURATION_PAGE, config_table, page_table


def test_readme_configuration_table_is_generated_from_the_models() -> None:
    # Fix: python -m configuration.table --write
    assert page_table(CONFIGURATION_PAGE.read_text()) == config_table()


def test_the_table_has_one_row_per_key_with_its_default_and_description() -> None:
    rows = [row.split(" | ") for row in config_table().splitlines()[2:]]
    fields = [
        (name, field)
        for model in SECTION_MODELS.values()
        for name, field in model_fields(model).items()
    ]
    assert len(rows) == len(fields)
    for row, (name, field) in zip(rows, fields, strict=True):
        assert row[1] == f"`{name}`"
        assert row[3] == field.description
        assert row[4]  # what a change does, for every key
    replicas = next(row for row in rows if row[1] == "`replicas`" and row[3].endswith("100"))
    assert replicas[2] == "`3`"  # the app's default, as the model says


# --- the README a newcomer reads first, and the pages it leads to -------------------------------

DOCS = PROJECT_DIR / "docs"
README = PROJECT_DIR / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown, re.M)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


def test_the_readme_is_short() -> None:
    assert len(README.read_text().splitlines()) <= 250


def test_the_readme_links_every_page_of_the_docs() -> None:
    linked = {Path(target.split("#")[0]).name for target in LINK.findall(README.read_text())}
    assert {page.name for page in DOCS.glob("*.md")} <= linked


@pytest.mark.parametrize("page", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    for target in LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.is_file(), f"{page.name}: {target}"
        if anchor:
            assert anchor in anchors(linked.read_text()), f"{page.name}: {target}"


def test_the_anchor_rule_reads_headings_as_github_does() -> None:
    assert anchors("## When the cluster's credentials change, and when it is gone\n") == {
        "when-the-clusters-credentials-change-and-when-it-is-gone"
    }
