"""Every runtime requirement is imported by the plugin: a dependency nobody imports costs every
user an install (and a failure mode) for nothing (issue 12, item 4)."""
import ast
import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ["PlexSync.py", "process_queue.py", "hooks", "sync_queue", "worker", "plex", "validation"]


def requirement_names(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0])
    return names


def top_level_imports(file: Path) -> set[str]:
    """Top-level names a module imports anywhere (inside functions too); not relative ones."""
    found = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def imported_top_levels() -> set[str]:
    found = set()
    for entry in RUNTIME:
        path = ROOT / entry
        for file in [path] if path.is_file() else path.rglob("*.py"):
            found |= top_level_imports(file)
    return found


def test_every_runtime_requirement_is_imported_by_the_plugin():
    by_distribution: dict[str, set[str]] = {}
    for module, dists in metadata.packages_distributions().items():
        for dist in dists:
            by_distribution.setdefault(dist.lower().replace("_", "-"), set()).add(module)
    imported = imported_top_levels()
    unused = [name for name in requirement_names(ROOT / "requirements.txt")
              if not by_distribution.get(name.lower().replace("_", "-"), set()) & imported]
    assert unused == [], f"requirements.txt lists packages no runtime module imports: {unused}"
