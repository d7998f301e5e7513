"""What a Stash user reads speaks their language (issue 12, item 5): task and setting names and
descriptions avoid the engineering words, and messages name a setting by the label Stash's
settings page shows (the key in brackets at most)."""
import ast
import re
from pathlib import Path

import pytest
import yaml

from validation.config import SETTINGS, setting_label

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ["PlexSync.py", "entry.py", "process_queue.py", "hooks", "sync_queue", "worker", "plex", "validation"]
JARGON = re.compile(r"dead.?letter|drainer|breaker|\bhooks?\b|\bdlq\b|\bjobs?\b", re.I)
KEYS = [s.name for s in SETTINGS]
# A key standing alone in prose: anywhere but in brackets of its own "(key)", never part of a
# longer name.
_KEY = "(?:" + "|".join(KEYS) + ")"
BARE_KEY = re.compile(rf"(?<![\w(]){_KEY}(?!\w)|(?<=\(){_KEY}(?![\w)])")


def manifest() -> dict:
    return yaml.safe_load((ROOT / "PlexSync.yml").read_text(encoding="utf-8"))


def shown_texts():
    doc = manifest()
    yield "plugin description", doc["description"]
    for kind in ("tasks", "hooks"):
        for entry in doc.get(kind) or []:
            yield f"{kind} name", entry["name"]
            yield f"{entry['name']} description", entry.get("description", "")
    for key, setting in doc["settings"].items():
        yield f"{key} displayName", setting["displayName"]
        yield f"{key} description", setting.get("description", "")


@pytest.mark.parametrize("where, text", list(shown_texts()))
def test_manifest_speaks_to_non_programmers(where, text):
    assert not JARGON.search(text), f"{where}: {text!r}"
    assert not BARE_KEY.search(text), f"{where} names a setting by its key: {text!r}"


def test_plex_token_description_says_where_to_find_it():
    description = manifest()["settings"]["plex_token"]["description"]
    assert "X-Plex-Token" in description and "View XML" in description


def test_every_setting_label_is_the_displayname():
    declared = manifest()["settings"]
    assert {s.name: s.label for s in SETTINGS} == {k: v["displayName"] for k, v in declared.items()}


def _messages(tree: ast.AST):
    """String pieces that can reach a user: every literal except docstrings, dict keys and
    bare identifiers (a key alone is a lookup, not a sentence)."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings and " " in node.value):
            yield node.lineno, node.value


def test_messages_name_settings_by_their_label():
    offenders = []
    for entry in RUNTIME:
        path = ROOT / entry
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            tree = ast.parse(file.read_text(encoding="utf-8"))
            for line, text in _messages(tree):
                if BARE_KEY.search(text):
                    offenders.append(f"{file.relative_to(ROOT)}:{line}: {text!r}")
    assert offenders == [], "use validation.config.setting_label():\n" + "\n".join(offenders)


@pytest.mark.parametrize("key", KEYS)
def test_every_key_has_a_label(key):
    assert setting_label(key) != key


def test_dev_commands_in_the_docs_use_the_projects_python():
    """Benchmarks, the demo and the tests need the project's packages: with the system python
    every benchmark figure read CRASHED (issue 12, item 2)."""
    pattern = re.compile(r"(\S*python[0-9.]*)\s+(?:-m\s+(?:tests\.|pytest)|bench/)")
    wrong = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            wrong += [f"{doc.name}:{n}: {line.strip()}" for m in pattern.finditer(line)
                      if m.group(1).lstrip("(`\x27\"") != ".venv/bin/python"]
    assert wrong == []


def test_install_docs_cover_windows_bare_metal_upgrade_and_the_zip():
    """Issue 12, item 1: what a newcomer on Linux, Docker or Windows would otherwise guess."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = (ROOT / "docs" / "install.md").read_text(encoding="utf-8")
    assert "Copy this folder" not in readme and "PlexSync.zip" in readme
    assert "copy a checkout)" not in install
    sections = dict(re.findall(r"^(#{2,3} [^\n]+)\n(.*?)(?=^#{2,3} |\Z)", install, re.M | re.S))
    titles = list(sections)
    assert "## Windows" in titles and "## Upgrade and uninstall" in titles
    bare_metal = next(t for t in titles if "externally-managed-environment" in t)
    assert "Docker" not in bare_metal and "venv" in sections[bare_metal]
    assert "file:///" in sections["### A local plugin source (no web server)"]
    assert "py -m pip install" in sections["## Windows"]
    assert "queue.db" in sections["## Upgrade and uninstall"]
