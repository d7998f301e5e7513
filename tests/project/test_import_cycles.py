"""No import cycles between PlexSync's own modules (house rule; issue 19 item 6 untied
sync_queue.store <-> sync_queue.repair). Imports inside functions count too: a cycle deferred
to call time is still two modules that cannot be understood, or tested, one without the other.
"""
import ast
from pathlib import Path

from tests.project.test_requirements import ROOT, RUNTIME


def module_name(file: Path) -> str:
    parts = file.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (`from a import b` counts a, and a.b when that
    is a module)."""
    paths = [ROOT / entry for entry in RUNTIME]
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*.py"))]
    names = {module_name(f): f for f in files}
    graph = {}
    for name, file in names.items():
        found = set()
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {m for m in found if m in names and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as [a, b, ..., a], or [] when there is none (depth-first search)."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" after
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = "done"
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"y"}, "y": {"y2"}, "y2": {"y"}}) == ["y", "y2", "y"]


def test_no_module_of_the_plugin_imports_itself_back():
    graph = import_graph()
    assert {"sync_queue.store", "sync_queue.repair", "entry", "plex.index"} <= set(graph)
    assert "sync_queue.repair" in graph["sync_queue.store"]  # function-level imports are seen
    assert find_cycle(graph) == []
