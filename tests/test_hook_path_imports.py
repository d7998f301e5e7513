"""The hook path stays on the standard library: heavy packages would blow its 150 ms budget."""
import subprocess
import sys

HEAVY = ("pydantic", "plexapi", "requests", "persistqueue", "stashapi", "tenacity", "urllib3")


def test_hook_entry_imports_no_heavy_package(project_root):
    probe = (
        "import sys, runpy; sys.argv=['PlexSync.py'];"
        "import importlib.util as u;"
        f"spec=u.spec_from_file_location('entry', r'{project_root / 'PlexSync.py'}');"
        "m=u.module_from_spec(spec); spec.loader.exec_module(m);"
        "import hooks.scene_hook, hooks.drainer_launch;"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {HEAVY!r}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=project_root, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
