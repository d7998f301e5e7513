"""The hook path's import budget (issue 13: hook cost at the physical limit).

A hook runs for every saved scene while Stash waits; each module it imports is paid on every
edit (json+re ~8 ms, logging ~10 ms, pathlib/subprocess/hashlib ~10 ms, urllib ~17 ms,
dataclasses/enum ~10 ms, measured). So the steady-state hook — run here exactly as PlexSync.yml
makes Stash run it, with a drainer running, with the drainer spawned, and with the last drain's
summary and a note waiting (saves seconds apart) — may import only
the modules in HOOK_MODULES beyond what the interpreter loads by itself. A new import on that
path fails this test; put it behind the rare path (a flag) or in the drainer instead.
"""
import json
import os
import subprocess
import sys

from sync_queue import inbox
from sync_queue.lock import DrainLock, drain_lock_held
from sync_queue.notes import leave_note, leave_summary, take_summary
from tests.waiting import wait_until

HEAVY = ("pydantic", "plexapi", "requests", "persistqueue", "stashapi", "tenacity", "urllib3")
# Everything the steady-state hook may import besides the interpreter's own start-up modules.
HOOK_MODULES = {
    "hooks.entry", "hooks", "hooks.lean_json", "hooks.scene_hook", "hooks.drainer_launch",
    "sync_queue", "sync_queue.inbox", "sync_queue.lock", "sync_queue.notes", "validation", "validation.data_dir",
    "_json", "fcntl", "_sha1",
    # frozen into the interpreter (no file read): what `python -S` loads on first use of os
    "os", "posixpath", "ntpath", "genericpath", "stat", "_stat", "_collections_abc",
}
NEVER_ON_HOOK_PATH = ("json", "re", "logging", "pathlib", "subprocess", "sqlite3", "hashlib",
                      "urllib", "dataclasses", "enum", "typing", "http", "socket", "site")


def _imported(argv: list, stdin: bytes, cwd, env) -> tuple[set, str, str]:
    done = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], input=stdin, cwd=cwd,
                          env=env, capture_output=True, timeout=60)
    lines = done.stderr.decode("utf-8", "replace").splitlines()
    names = {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}
    names.discard("package")  # the header line
    return names, done.stdout.decode(), "\n".join(l for l in lines if not l.startswith("import time:"))


def _hook_input(project_root, title_only: bool = True) -> bytes:
    return json.dumps({
        "server_connection": {"Scheme": "http", "Host": "127.0.0.1", "Port": 9,
                              "SessionCookie": {"Name": "session", "Value": "c00kie"},
                              "PluginDir": str(project_root)},
        "args": {"hookContext": {"id": 7, "type": "Scene.Update.Post",
                                 "input": {"id": "7", "title": "New"},
                                 "inputFields": ["id", "title"]}}}).encode()


def test_steady_state_hook_imports_only_its_budget(project_root, tmp_path):
    manifest = (project_root / "PlexSync.yml").read_text(encoding="utf-8")
    assert '  - "-S"\n  - "{pluginDir}/PlexSync.py"' in manifest  # as Stash will run it
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PLEXSYNC_DATA_DIR"] = str(tmp_path / "data")
    baseline, _, _ = _imported([sys.executable, "-S", "-c", "pass"], b"", project_root, env)
    argv = [sys.executable, "-S", str(project_root / "PlexSync.py")]

    lock = DrainLock(tmp_path / "data")
    assert lock.try_acquire()  # a drainer "runs": the hook only notes the edit
    try:
        running, out, err = _imported(argv, _hook_input(project_root), project_root, env)
    finally:
        lock.release()
    assert json.loads(out) == {"output": "scene 7: queued for Plex"}, (out, err)
    assert len(inbox.pending(tmp_path / "data")) == 1

    # No drainer: the hook spawns one (it fails fast on the closed Stash port, by itself).
    spawned, out, err = _imported(argv, _hook_input(project_root), project_root, env)
    assert json.loads(out) == {"output": "scene 7: queued for Plex"}, (out, err)
    wait_until(lambda: not drain_lock_held(tmp_path / "data"), 60, what="the drainer to exit")

    # Saves seconds apart: the last drain's summary and a note wait; the hook relays both.
    take_summary(tmp_path / "data")  # the failed drainer's own line, not this test's
    leave_summary(tmp_path / "data", "synced 1, unchanged 0 in 0.4 s")
    leave_note(tmp_path / "data", "index.db was rebuilt")
    relayed, out, err = _imported(argv, _hook_input(project_root), project_root, env)
    assert json.loads(out) == {"output": "scene 7: queued for Plex"}, (out, err)
    assert err.count("background sync: synced 1, unchanged 0 in 0.4 s") == 1, err
    assert err.count("index.db was rebuilt") == 1, err
    wait_until(lambda: not drain_lock_held(tmp_path / "data"), 60, what="the drainer to exit")

    for extra in (running - baseline, spawned - baseline, relayed - baseline):
        assert extra <= HOOK_MODULES, sorted(extra - HOOK_MODULES)
        assert not {m for m in extra if m.split(".")[0] in NEVER_ON_HOOK_PATH}


def test_budget_check_would_catch_a_new_import(project_root, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    baseline, _, _ = _imported([sys.executable, "-S", "-c", "pass"], b"", project_root, env)
    heavier, _, _ = _imported([sys.executable, "-S", "-c", "import json, logging"], b"",
                              project_root, env)
    assert {"json", "logging", "re"} <= heavier - baseline


def test_rare_hook_paths_import_no_heavy_package(project_root):
    probe = (
        "import sys; sys.path.insert(0, '.');"
        "import PlexSync, hooks.entry, hooks.scene_hook, hooks.drainer_launch, hooks.stash_api,"
        " hooks.errors, hooks.stash_log, sync_queue.store, validation.config;"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {HEAVY!r}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=project_root, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
