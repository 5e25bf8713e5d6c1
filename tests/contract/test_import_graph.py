"""The code's import graph: no cycles, imports flow one way (services → p3ke_platform → p3ke_schemas), no
service imports another or finds another's files, and the old ways of reaching a dependency are gone.

Every import counts, at module level or inside a function (a cycle through a function-level import is
still a cycle: it only moves the failure to run time); imports under `if TYPE_CHECKING:` do not run and
do not count.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "p3ke_schemas": ROOT / "schemas" / "p3ke_schemas",
    "p3ke_platform": ROOT / "libs" / "platform" / "p3ke_platform",
    **{f"p3ke_{d.name}": d / f"p3ke_{d.name}" for d in sorted((ROOT / "services").iterdir()) if d.is_dir()},
}
SERVICES = {name for name in PACKAGES if name not in ("p3ke_schemas", "p3ke_platform")}
LAYER = {"p3ke_schemas": 0, "p3ke_platform": 1, **dict.fromkeys(SERVICES, 2)}


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            if "migrations" in path.relative_to(folder).parts:
                continue
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(module: str, path: Path, known: set[str]) -> Iterator[str]:
    tree = ast.parse(path.read_text(), str(path))
    skip = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:  # `from a.b import c`: the module a.b.c, else a.b
                name = name.rpartition(".")[0]
            if name and name != module:
                yield name


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {m: set(_imports(m, p, known)) for m, p in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    import sys

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


def test_the_analysis_sees_a_cycle_when_there_is_one() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_reads_the_whole_code() -> None:
    graph = _graph()
    assert len(graph) > 200
    assert "p3ke_platform.service" in graph["p3ke_platform.runner"]


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_imports_flow_one_way_and_no_service_imports_another() -> None:
    wrong = sorted(f"{m} imports {d}" for m, deps in _graph().items() for d in deps
                   if _top(d) != _top(m) and LAYER[_top(d)] >= LAYER[_top(m)])
    assert wrong == []


def test_no_service_finds_another_and_the_old_wiring_is_gone() -> None:
    pattern = re.compile(r"context_for|_delivery_context|_ingest_context|find_spec\(")
    hits = [f"{path.relative_to(ROOT)}:{n}" for path in _modules().values()
            for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    for service in sorted(SERVICES):  # by package name or by folder: a service never reaches into another
        others = [(other, f"services/{other.removeprefix('p3ke_')}") for other in sorted(SERVICES - {service})]
        hits += [f"{path.relative_to(ROOT)} names {other}" for path in PACKAGES[service].rglob("*.py")
                 for other, folder in others if other in path.read_text() or folder in path.read_text()]
    assert hits == []
