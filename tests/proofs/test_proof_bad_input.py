"""Proof 5 (issue 5): bad input -> a clear one-line error or a sanitised sync, never a
traceback, and nothing else lost.

PlexSync.py runs exactly as Stash runs it (the runner), except for malformed stdin, which Stash
never sends: there `python PlexSync.py` is spawned with the raw bytes. Each test first queues
a bystander edit while a drainer "runs" (the test holds the drain lock), throws the bad input
at PlexSync, then lets the drain go and checks that the bystander still lands.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from contextlib import contextmanager

import pytest

from sync_queue.lock import DrainLock
from tests.emulators.plex_library import PART_II_FILE
from tests.harness.fixtures import PLUGIN_ROOT
from tests.proof_checks import queue_counts, secret_leaks, tracebacks, twin_scenes

PLEXSYNC = str(PLUGIN_ROOT / "PlexSync.py")
SETTING_ERRORS = {  # settings as stored in Stash -> the setting the one-line error must name
    "no settings at all": ({}, "plex_url"),
    "no token": ({"plex_url": "http://127.0.0.1:9"}, "plex_token"),
    "not a URL": ({"plex_url": "ftp://plex:32400", "plex_token": "t0ken"}, "plex_url"),
    "retries not a number": ({"max_retries": "many"}, "max_retries"),
    "negative timeout": ({"connect_timeout": -3}, "connect_timeout"),
    "bad path_map": ({"path_map": "/stash/only/one/side"}, "path_map"),
}


@contextmanager
def bystander(env, title="Bystander edit"):
    """A normal edit queued while a drainer holds the lock; on exit the lock is let go, a
    drainer started, and the edit must land in Plex despite whatever happened meanwhile."""
    lock = DrainLock(env.data_dir)
    assert lock.try_acquire()
    try:
        env.edit(env.library.scenes["part2"], title=title)
        yield
    finally:
        lock.release()
    env.start_drainer()
    env.wait_plex(PART_II_FILE, lambda item: item["title"] == title, timeout=60,
                  what="the bystander edit")


def one_line_error(text) -> str:
    assert isinstance(text, str) and text and "\n" not in text and len(text) < 500, text
    return text


def assert_clean(env, extra: dict | None = None):
    assert tracebacks(env, extra) == [], tracebacks(env, extra)
    assert secret_leaks(env, extra) == []
    assert not any(run.stderr_truncated for run in env.runner.runs)


MALFORMED_STDIN = {
    "empty": b"",
    "blank": b" \n\t ",
    "truncated JSON": b'{"server_connection": {"Scheme": "http"',
    "not JSON": b"hello Stash",
    "a JSON list": b"[1, 2, 3]",
    "JSON null": b"null",
    "binary garbage": bytes(range(256)) * 64,
    "invalid UTF-8 in JSON": b'{"args": {"mode": "\xff\xfe"}}',
    "args not an object": b'{"server_connection": {}, "args": ["mode"]}',
    "connection not an object": b'{"server_connection": "x", "args": {"mode": "queue_status"}}',
    "hookContext not an object": b'{"server_connection": {}, "args": {"hookContext": "x"}}',
    "cookie not an object": b'{"server_connection": {"SessionCookie": "v"}, "args": {}}',
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
}


def test_malformed_stdin_is_one_line_error_without_traceback(secured):
    env = secured
    outputs = {}
    with bystander(env):
        for name, raw in MALFORMED_STDIN.items():
            child_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            child_env["PLEXSYNC_DATA_DIR"] = str(env.data_dir)
            done = subprocess.run([sys.executable, PLEXSYNC], input=raw, capture_output=True,
                                  cwd=env.runner.cwd, env=child_env, timeout=60)
            stdout, stderr = (done.stdout.decode("utf-8", "replace"),
                              done.stderr.decode("utf-8", "replace"))
            outputs[f"{name} stdout"], outputs[f"{name} stderr"] = stdout, stderr
            assert done.returncode == 0, (name, stderr)
            answer = json.loads(stdout)
            assert list(answer) == ["error"], (name, answer)
            assert not one_line_error(answer["error"]).startswith("unexpected "), answer
            # stderr: only Stash log-protocol lines (an error line saying the same thing)
            lines = stderr.splitlines()
            assert lines and all(line.startswith("\x01") for line in lines), (name, stderr)
            assert f"\x01e\x02{answer['error']}" in lines, (name, stderr)
    assert_clean(env, outputs)
    for name in MALFORMED_STDIN:
        print(f"  {name:28} -> {json.loads(outputs[name + ' stdout'])['error'][:110]}")


def test_unknown_mode_and_bad_settings_are_one_error_naming_the_fix(secured):
    env = secured
    good = env.stash.plugin_settings("PlexSync")
    with bystander(env):
        unknown = env.runner.run_task("Process Queue", {"mode": "sync_everything"})
        assert "unknown task mode 'sync_everything'" in one_line_error(unknown.error)
        assert "process_queue" in unknown.error
        for case, (settings, setting) in SETTING_ERRORS.items():
            stored = settings if not settings or "plex_url" in settings else {**good, **settings}
            env.stash.set_plugin_settings("PlexSync", stored)
            # The hook reads no settings in steady state: the first PlexSync process that
            # reads them (a task here, else the drainer) flags the problem, and from then on
            # every hook names it (keeping the edit) until it is fixed.
            task = env.runner.run_task("queue_status")
            hook = env.runner.run_hook("Scene.Update.Post", env.library.scenes["part1"],
                                       {"id": "1", "title": "x"}, ["id", "title"])[0]
            for run in (hook, task):
                assert run.exit_code == 0 and run.output is None, (case, run.output)
                assert f"({setting})" in one_line_error(run.error), (case, run.error)
                assert run.messages("error") == [run.error], (case, run.logs)
        env.stash.set_plugin_settings("PlexSync", good)
    assert env.dead_letters() == []
    assert_clean(env)


def test_hook_for_deleted_scenes_queues_the_rest(secured):
    env = secured
    scenes = twin_scenes(env, 2, "deleted")
    gone, kept = scenes
    with bystander(env):
        env.stash.delete_scene(gone)
        [single] = env.runner.run_hook("Scene.Update.Post", gone, {"id": str(gone), "title": "t"},
                                       ["id", "title"])
        # The hook asks Stash nothing; the drainer finds the scene gone (and says so below).
        assert single.error is None and single.output == f"scene {gone}: queued for Plex"
        env.stash.edit_scene(kept, title="kept, edited with a deleted one")
        bulk = env.runner.run_hook("Scene.Update.Post", kept,
                                   {"ids": [str(gone), str(kept)], "title": "bulk"},
                                   ["ids", "title"])[0]
        assert bulk.error is None and "queued 2 scenes for Plex" == bulk.output
    env.wait_drained(timeout=60)
    assert f"scene(s) {gone} no longer exist" in env.drainer_log()
    assert env.plex_item(scenes[kept])["title"] == "kept, edited with a deleted one"
    assert env.plex_item(scenes[gone])["title"] == "plex deleted 0"  # untouched
    assert env.dead_letters() == []
    assert_clean(env)


HOSTILE_TITLE = "Evil\x00Title\x07 \u202eesrever\u202c 🎬 \x1b[31mred\x1b[0m\r\nline two"
HOSTILE_DETAILS = ("Start ☃ \u202bמימין לשמאל\u202c 👩‍🎤\x00\x08\n" + "long text " * 10_000)[:100_000]


def _has_hidden(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text) or any(
        c in text for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


@pytest.mark.parametrize("bad_date", ["2024-02-30", "not a date", "9999-99-99", "\x00"])
def test_hostile_strings_are_synced_sanitised(secured, bad_date):
    env = secured
    scenes = twin_scenes(env, 1, "hostile")
    [(scene, path)] = scenes.items()
    with bystander(env):
        env.stash.edit_scene(scene, details=HOSTILE_DETAILS, studio="Studio\x1b[2J \u202e",
                             performers=["Perf\x00ormer 👩‍🎤", "עברית", "  "],
                             tags=["\u202eevil", "ok tag", "tag\x00nul", "", "\x07"],
                             groups=["Group\ufeff"])
        with env.stash.state.lock:  # a corrupt date row (Stash's own API refuses to write it)
            env.stash.state.scenes[scene]["date"] = bad_date
        env.edit(scene, title=HOSTILE_TITLE)
        run = env.runner.runs[-1]
        assert run.error is None and "queued for Plex" in run.output
    item = env.wait_plex(path, lambda i: "Evil" in i["title"], timeout=60, what="the hostile scene")
    # The drainer reads the scene from Stash, so its sanitiser warnings are in drainer.log.
    warnings = [line for line in env.drainer_log().splitlines() if " WARNING " in line]
    assert any(f"scene {scene}: details is 100000 characters" in w for w in warnings), warnings
    assert any(f"scene {scene}: title had control" in w for w in warnings), warnings
    assert any(f"scene {scene}: date" in w and "not a valid date" in w for w in warnings), warnings
    title = item["title"]  # control characters and the bidi override gone, the rest kept
    assert title.startswith("EvilTitle esrever 🎬 ") and title.endswith(" line two"), title
    assert item["summary"].startswith("Start ☃ מימין לשמאל 👩‍🎤\nlong text long text")
    assert 9_000 < len(item["summary"]) <= 10_000
    assert item["originallyAvailableAt"] is None
    assert item["studio"].startswith("Studio")
    assert [a["tag"] for a in item["actors"]] == ["Performer 👩‍🎤", "עברית"]
    assert sorted(item["genres"]) == ["evil", "ok tag", "tagnul"]
    assert "Group" in item["collections"]
    for value in [item["title"], item["summary"], item["studio"], *item["genres"],
                  *item["collections"], *(a["tag"] for a in item["actors"])]:
        assert not _has_hidden(value), repr(value)
    assert env.dead_letters() == [] and queue_counts(env)["ready"] == 0
    assert_clean(env)
