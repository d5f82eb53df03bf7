"""The package's layers (docs/architecture.md): imports run one way, down. Read from the source with ast,
counting function-local imports too: no two packages (or root modules) import each other, directly or
through others, and the root keeps a handful of modules."""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "labelkit"
MAX_ROOT_MODULES = 8  # besides __init__.py


def _room(module: str) -> str | None:
    """The package (folder) or root module a dotted labelkit module belongs to; None for `labelkit` itself."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    return parts[1] if (PACKAGE / parts[1]).is_dir() else f"{parts[1]}.py"


def _module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, dict[str, set[str]]]:
    """room -> room it imports -> the importing files, from every labelkit import in the source."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in PACKAGE.rglob("*.py"):
        module = _module_of(path)
        source = _room(module)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("labelkit"):
                targets = ([f"labelkit.{a.name}" for a in node.names] if node.module == "labelkit"
                           else [node.module])
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("labelkit")]
            else:
                continue
            for target in targets:
                room = _room(target)
                if room is not None and room != source and source is not None:
                    graph[source][room].add(str(path.relative_to(PACKAGE.parent)))
    return graph


def circles(graph) -> list[list[str]]:
    """Strongly connected groups of more than one room (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(room: str) -> None:
        index[room] = low[room] = len(index)
        stack.append(room)
        for other in graph.get(room, {}):
            if other not in index:
                visit(other)
                low[room] = min(low[room], low[other])
            elif other in stack:
                low[room] = min(low[room], index[other])
        if low[room] == index[room]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == room:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for room in sorted({*graph, *(r for targets in graph.values() for r in targets)}):
        if room not in index:
            visit(room)
    return found


def test_packages_import_one_way_down():
    graph = import_graph()
    loops = circles(graph)
    detail = [f"{a} -> {b} ({', '.join(sorted(graph[a][b])[:3])})" for group in loops for a in group
              for b in group if b in graph.get(a, {})]
    assert not loops, "packages that import each other: " + "; ".join(detail)


def test_the_circle_check_sees_a_circle():
    assert circles({"a": {"b": {"x"}}, "b": {"c": {"y"}}, "c": {"a": {"z"}}}) == [["a", "b", "c"]]
    assert circles({"a": {"b": {"x"}}, "b": {}}) == []


def test_the_root_keeps_a_handful_of_modules():
    root = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(root) <= MAX_ROOT_MODULES, f"{len(root)} root modules: {', '.join(root)}; fold some into a package"
