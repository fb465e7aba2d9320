"""The import graph of the slice folders (advertiser, operator, media, ...) stays acyclic: between folders,
and between their modules. Read from the source with ``ast`` (nothing is imported), so an import inside a
function counts as much as one at the top: a lazy import only hides a cycle, it does not end it.

Top-level modules are left out: the composition root (`context.build_context`, `app`, `cli`) imports every
slice to assemble them, and slices import it back for the `AppContext` type; a path through it is wiring,
not one slice depending on another."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import threadline

PACKAGE = Path(threadline.__file__).parent
SKIP = ("store/migrations",)  # Alembic revisions are loaded by Alembic, not imported


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        if any(part in rel.as_posix() for part in SKIP):
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        yield ".".join(parts), path


def import_edges() -> dict[tuple[str, str], list[str]]:
    """(importer, imported) module pairs inside the package, each with where it happens (file:line)."""
    modules = dict(_modules())
    edges: dict[tuple[str, str], list[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                # `from pkg import name` imports pkg.name when that is a module, else pkg itself
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target in modules and target != name:
                    where = f"{path.relative_to(PACKAGE)}:{node.lineno}"
                    edges.setdefault((name, target), []).append(where)
    return edges


def cycles(edges: dict[tuple[str, str], list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _slice_folders() -> set[str]:
    return {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}


def _folder(module: str) -> str:
    """threadline.advertiser.launch -> advertiser; threadline.app -> app (a top-level module is its own node)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _explain(component: list[str], edges: dict[tuple[str, str], list[str]]) -> str:
    members = set(component)
    lines = [f"{a} -> {b} ({', '.join(w[:3])})" for (a, b), w in sorted(edges.items()) if {a, b} <= members]
    return "\n".join(lines)


def test_no_import_cycle_between_slice_folders() -> None:
    folders = _slice_folders()
    folder_edges: dict[tuple[str, str], list[str]] = {}
    for (a, b), where in import_edges().items():
        fa, fb = _folder(a), _folder(b)
        if fa != fb and {fa, fb} <= folders:
            folder_edges.setdefault((fa, fb), []).extend(where)
    found = cycles(folder_edges)
    assert not found, "import cycles between folders:\n" + "\n\n".join(
        _explain(c, folder_edges) for c in found
    )


def test_no_import_cycle_between_modules_of_the_slices() -> None:
    folders = _slice_folders()
    edges = {
        (a, b): where
        for (a, b), where in import_edges().items()
        if _folder(a) in folders and _folder(b) in folders
    }
    found = cycles(edges)
    assert not found, "import cycles between modules:\n" + "\n\n".join(_explain(c, edges) for c in found)


def test_the_checker_sees_a_cycle() -> None:
    # The ended cycles, as they were: the checker must report each of them.
    edges = {
        ("threadline.advertiser", "threadline.operator"): ["advertiser/launch.py:41"],
        ("threadline.operator", "threadline.advertiser"): ["operator/review.py:8"],
        ("threadline.serving.matching", "threadline.serving.semantic"): ["serving/matching.py:259"],
        ("threadline.serving.semantic", "threadline.serving.matching"): ["serving/semantic.py:28"],
        ("threadline.media", "threadline.kit"): ["media/routes.py:18"],
    }
    assert cycles(edges) == [
        ["threadline.advertiser", "threadline.operator"],
        ["threadline.serving.matching", "threadline.serving.semantic"],
    ]
    assert "advertiser/launch.py:41" in _explain(["threadline.advertiser", "threadline.operator"], edges)
