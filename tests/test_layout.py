"""The shape of the code: one-way imports between folders, no import circle, short modules."""

import ast
from pathlib import Path

import pytest

from tools.preview.mocks import PROJECT_DIR

PACKAGES = ("components", "configuration", "tools", "benchmarks")
MAX_LINES = 400
# Which folder may import which: configuration is plain data and rules, the components build
# resources from it, the tools run or check both. Nothing imports back up.
MAY_IMPORT = {
    "configuration": {"configuration"},
    "components": {"components", "configuration"},
    "tools": {"tools", "configuration"},
    "benchmarks": {"benchmarks", "tools", "configuration"},
}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((PROJECT_DIR / package).rglob("*.py")):
            dotted = ".".join(path.relative_to(PROJECT_DIR).with_suffix("").parts)
            found[dotted.removesuffix(".__init__")] = path
    return found


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in known}
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(path, set(found)) - {name} for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, one path each (depth-first search, colouring)."""
    state: dict[str, str] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                found.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_no_import_circle() -> None:
    assert cycles(graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_folders_import_one_way() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if target.split(".")[0] not in MAY_IMPORT[module.split(".")[0]]
    ]
    assert wrong == []


SOURCES = sorted(
    [*modules().values(), *(PROJECT_DIR / "tests").rglob("*.py"), PROJECT_DIR / "__main__.py"]
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PROJECT_DIR)))
def test_no_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines: split it by job"


def test_every_tool_runs_as_a_module() -> None:
    for tool in ("preview", "check_affinity"):
        assert (PROJECT_DIR / "tools" / tool / "__main__.py").is_file()
