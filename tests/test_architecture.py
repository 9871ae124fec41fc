"""The shape of the house: every module imports only modules "below" it.

The import graph of the backoffice package is built from the source (every ``import``, at module
level or inside a function, except those under ``if TYPE_CHECKING:``) and must have no cycle. A
function-level import is then never there to dodge a cycle; it is there to keep a heavy library
out of start-up. Run it on its own with ``python tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"backoffice": ROOT / "backoffice", "backoffice.agent": ROOT / "agent", "backoffice.tools": ROOT / "tools"}


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for prefix, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([prefix, *parts])] = path
    return found


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and _type_checking_only(node, parents):
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_no_import_cycles() -> None:
    assert find_cycles(import_graph()) == []


def test_the_domain_never_imports_the_agent() -> None:
    """tools/ is the domain: it knows nothing of planners, the chat or the command line."""
    graph = import_graph()
    leaks = {m: sorted(t for t in ts if t.startswith("backoffice.agent")) for m, ts in graph.items()}
    assert {m: ts for m, ts in leaks.items() if m.startswith("backoffice.tools") and ts} == {}


if __name__ == "__main__":
    cycles = find_cycles(import_graph())
    for group in cycles:
        print("cycle:", " <-> ".join(group))
    print(f"{len(modules())} modules, {len(cycles)} import cycle(s)")
    sys.exit(1 if cycles else 0)


def test_the_error_tree_in_errors_py_is_the_real_one() -> None:
    """The tree drawn in errors.py's docstring names every error class, each under its real base."""
    import inspect
    import re

    from backoffice.tools import errors

    drawn: dict[str, str] = {}
    parents: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        m = re.match(r"^(\s*)(?:[│ ]*[├└]── )?([A-Z]\w+)(?:\s{2,}|$)", line)
        if not m or not line.strip():
            continue
        depth = line.index(m.group(2))
        while parents and parents[-1][0] >= depth:
            parents.pop()
        drawn[m.group(2)] = parents[-1][1] if parents else "Exception"
        parents.append((depth, m.group(2)))
    real = {
        name: cls.__bases__[0].__name__
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, Exception) and cls.__module__ == errors.__name__
    }
    assert drawn == real


def test_every_subpackage_is_listed_for_the_wheel() -> None:
    """pyproject.toml lists packages by their installed names; a new folder left out of it would
    work from a checkout and be missing from the wheel."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {name for name, path in modules().items() if path.name == "__init__.py"}
    assert on_disk | {"backoffice.schemas", "backoffice.procedures"} == listed
