"""The plugin runner behaves as Stash's raw plugin interface (pkg/plugin, Stash v0.30.1).

A throwaway plugin ("probe") is written into tmp_path and run through the runner; every expected
value below is derived from Stash's Go source, not from the runner's own tables.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.harness import protocol
from tests.harness.fixtures import PLUGIN_ROOT  # its fixtures come via tests/conftest.py
from tests.harness.manifest import (ManifestError, discover_plugins, load_manifest,
                                    load_manifest_text)
from tests.harness.runner import NO_SESSION_COOKIE, PluginHung, PluginRunner
from tests.waiting import wait_until

PROBE_PY = r'''
import json, os, subprocess, sys, time
raw = sys.stdin.buffer.read()
args = json.loads(raw)["args"]
mode = args.get("mode")
def log(level, message):
    sys.stderr.write("\x01" + level + "\x02" + message + "\n"); sys.stderr.flush()
def answer(obj):
    sys.stdout.write(json.dumps(obj)); sys.stdout.flush()
def child(**kw):
    c = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], **kw)
    open(args["pidfile"], "w").write(str(c.pid))
if mode in ("echo", "hook"):
    if mode == "hook":
        log("p", "0.5"); log("i", "hook ran")
    answer({"output": {"stdin": raw.decode(), "argv": sys.argv, "cwd": os.getcwd(),
                       "executable": sys.executable, "pythonpath": os.environ.get("PYTHONPATH"),
                       "data_dir": os.environ.get("PLEXSYNC_DATA_DIR")}})
elif mode == "logs":
    for level in "tdiwe":
        log(level, "  %s msg  " % level)
    sys.stderr.write("plain line\n\x01x\x02odd\n\x01\x00\x02hidden\n\n\x01i\x02crlf\r\n")
    for value in ("0.25", "0.5", "1", "abc"):
        log("p", value)
    sys.stderr.write("\x01i\x02\ntail"); sys.stderr.flush()
    answer({"output": "logged"})
elif mode == "exit":
    sys.exit(int(args["code"]))
elif mode == "error":
    answer({"error": "boom"}); sys.exit(int(args.get("code", 0)))
elif mode == "stdout":
    sys.stdout.write(args["text"])
elif mode == "long_line":
    log("i", "before")
    try:
        sys.stderr.write("x" * 70000 + "\n"); sys.stderr.flush()
        for _ in range(600):  # until Stash's reader closes its end (at most 60 s)
            time.sleep(0.1); log("i", "after")
        answer({"output": "wrote"})
    except BrokenPipeError:
        sys.stderr = open(os.devnull, "w"); answer({"output": "EPIPE"})
elif mode == "hang_child":
    child(); answer({"output": "spawned"})          # the child inherits stdout
elif mode == "stderr_child":
    child(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
elif mode == "detached_child":
    child(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
          start_new_session=True)
elif mode == "sleep":
    log("i", "started"); time.sleep(600)
elif mode == "slow":
    time.sleep(float(args["seconds"])); answer({"output": "done"})
'''

PROBE_YML = """\
name: Probe
description: harness test plugin
version: "1.0"
exec:
  - python3
  - "{pluginDir}/probe.py"
  - "--dir={pluginDir}"
interface: raw
%s
hooks:
  - name: Record
    triggeredBy: [Scene.Update.Post, Scene.Create.Post]
    defaultArgs: {mode: hook, flag: yes}
tasks:
  - name: Echo
    execArgs: ["--task={pluginDir}"]
    defaultArgs: {mode: echo, hours: 24, ratio: 1.50, flag: yes}
""" + "".join(f"  - name: {n}\n    defaultArgs: {{mode: {m}}}\n" for n, m in [
    ("Logs", "logs"), ("Exit", "exit"), ("Error", "error"), ("Stdout", "stdout"),
    ("Long line", "long_line"), ("Hang", "hang_child"), ("Stderr child", "stderr_child"),
    ("Detached", "detached_child"), ("Sleep", "sleep"), ("Slow", "slow")])

COOKIE = "MTcwMDAwMDAwMHxEdi1CQkFFQ180SUFBUkFCRUFBQUJQLUNBQUE9fA=="
# pkg/models/scene.go SceneUpdateInput, in struct order (movies before groups, unlike the SDL)
SCENE_UPDATE_KEYS = [
    "clientMutationId", "id", "title", "code", "details", "director", "url", "urls", "date",
    "rating100", "o_counter", "organized", "studio_id", "gallery_ids", "performer_ids", "movies",
    "groups", "tag_ids", "cover_image", "stash_ids", "resume_time", "play_duration",
    "play_count", "primary_file_id"]
SCHEMA = Path(__file__).resolve().parents[2].parent / "shared" / "stash-schema" / "v0.30.1" / "types" / "scene.graphql"


@pytest.fixture
def probe_dir(tmp_path):
    folder = tmp_path / "plugins" / "probe"
    folder.mkdir(parents=True)
    (folder / "probe.py").write_text(PROBE_PY)
    (folder / "Probe.yml").write_text(PROBE_YML % "")
    (folder / "ProbeWarn.yml").write_text(PROBE_YML % "errLog: warning")
    return folder


@pytest.fixture
def probe(make_runner, probe_dir):
    return make_runner(probe_dir, ("0.0.0.0", 9999), plugin_id="Probe", session_cookie=COOKIE,
                       env={"PYTHONPATH": None}, seed=7, hang_timeout=30)


def _kill_child(pidfile: Path):
    os.kill(int(pidfile.read_text()), signal.SIGKILL)  # the probe's own child, started by this test


# --- manifest ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, needle", [
    ("name: a\nnme: b\n", "line 2: field nme not found in type plugin.Config"),
    ("tasks:\n  - name: a\n    defaultargs: {}\n",
     "field defaultargs not found in type plugin.OperationConfig"),
    ("hooks:\n  - {name: a, trigger: [x]}\n", "field trigger not found in type plugin.HookConfig"),
    ("settings:\n  a:\n    label: x\n", "field label not found in type plugin.SettingConfig"),
    ("ui:\n  scripts: []\n", "field scripts not found in type plugin.UIConfig"),
    ("name: a\nname: b\n", "field name already set in type plugin.Config"),
    ("exec: python3\n", "cannot unmarshal !!str `python3` into []string"),
    ("interface: grpc\n", "invalid interface type grpc"),
    ("settings:\n  a:\n    type: FLOAT\n", "invalid type a for setting FLOAT"),
    ("", "EOF"),
])
def test_manifest_is_decoded_strictly_like_yaml_v2(text, needle):
    with pytest.raises(ManifestError) as exc:
        load_manifest_text(text, "/plugins/x/x.yml")
    assert needle in str(exc.value)


def test_manifest_fields_keep_raw_yaml_text_and_stash_defaults(tmp_path):
    path = tmp_path / "My.Plugin.yml"
    path.write_text("exec: [python3, x.py]\ntasks:\n  - name: T\n    defaultArgs:\n"
                    "      hours: 24\n      ratio: 1.50\n      flag: yes\n      none: ~\n"
                    "hooks:\n  - name: H\n    triggeredBy: [Scene.Update.Post, Scene.Update.Post]\n"
                    "settings:\n  token: {displayName: Token}\n")
    m = load_manifest(path)
    assert (m.id, m.display_name, m.interface, m.err_log) == ("My.Plugin", "My.Plugin", "raw", "")
    assert m.task("T").default_args == {"hours": "24", "ratio": "1.50", "flag": "yes", "none": ""}
    assert len(m.hooks_for("Scene.Update.Post")) == 2  # listed twice -> runs twice in Stash
    assert m.settings["token"].effective_type == "STRING"
    with pytest.raises(ManifestError, match=r"only loads files ending in \.yml"):
        load_manifest(tmp_path / "x.yaml")


def test_plugin_discovery_loads_only_yml_with_unique_ids(tmp_path):
    for rel, text in [("a/good.yml", "name: g\n"), ("b/other.yaml", "name: o\n"),
                      ("c/bad.yml", "nam: b\n"), ("d/GOOD.yml", "name: dup\n")]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    loaded, errors = discover_plugins(tmp_path)
    assert [m.id for m in loaded] == ["good"]
    assert {Path(p).name: e for p, e in errors}.keys() == {"bad.yml", "GOOD.yml"}
    assert "already exists" in dict((Path(p).name, e) for p, e in errors)["GOOD.yml"]
    with pytest.raises(ManifestError, match="expected one .yml"):
        PluginRunner(tmp_path / "b", "http://127.0.0.1:9999")


def test_real_plexsync_manifest_loads_strictly():
    path = PLUGIN_ROOT / "PlexSync.yml"
    if not path.exists():
        pytest.skip("PlexSync.yml is not written yet")
    m = load_manifest(path)
    assert (m.id, m.interface) == ("PlexSync", "raw")
    assert m.exec[0] in ("python", "python3")
    assert m.hooks_for("Scene.Update.Post") and m.hooks_for("Scene.Create.Post")
    modes = {t.default_args.get("mode") for t in m.tasks}
    assert modes == {"process_queue", "sync_all", "sync_recent", "queue_status", "dlq_list",
                     "dlq_retry", "dlq_purge", "health_check", "dry_run", "import_plays"}


# --- exec -------------------------------------------------------------------------------------

def test_exec_substitution_keeps_the_first_argument(tmp_path):
    m = load_manifest_text('exec: ["no-such-tool-{pluginDir}", "{pluginDir}/a", "x{pluginDir}y"]\n'
                           'tasks: [{name: T, execArgs: ["--d={pluginDir}"]}]\n',
                           str(tmp_path / "t.yml"))
    d = str(tmp_path)
    assert m.exec_command(m.task("T")) == [os.path.join(d, "no-such-tool-{pluginDir}"),
                                           f"{d}/a", f"x{d}y", f"--d={d}"]


def test_python_mapping_and_pythonpath(make_runner, probe_dir, tmp_path):
    (probe_dir / "Py.yml").write_text('exec: [python, "{pluginDir}/probe.py"]\n')
    r = make_runner(probe_dir, "https://stash.local:9443", plugin_id="Py",
                    python=str(tmp_path / "missing"), env={"PYTHONPATH": "/opt/x"})
    assert (r.scheme, r.host, r.port) == ("https", "stash.local", 9443)
    # python.Resolve: a configured path that is not a file falls back to python3 on PATH
    argv, env = r.command(None)
    assert argv[0] == (shutil.which("python3") or shutil.which("python"))
    assert env["PYTHONPATH"] == f"/opt/x{os.pathsep}{probe_dir.parent}"


def test_task_runs_like_stash_execs_it(probe, probe_dir):
    result = probe.run_task("Echo")
    seen = result.output
    d = str(probe_dir)
    assert result.error is None and result.exit_code == 0
    assert seen["argv"] == [f"{d}/probe.py", f"--dir={d}", f"--task={d}"]
    assert result.argv[0] == sys.executable == seen["executable"]
    assert seen["pythonpath"] == str(probe_dir.parent)
    assert seen["cwd"] == probe.cwd != d
    assert seen["data_dir"] == probe.env["PLEXSYNC_DATA_DIR"]
    assert seen["stdin"].encode() == result.stdin  # everything arrived, and stdin was closed


# --- stdin ------------------------------------------------------------------------------------

def test_stdin_is_go_json_byte_for_byte(probe, probe_dir):
    args = {"note": "<b> & \u2028\b\f\x01\t é😀", "f": 1e21, "small": 1.5e-7, "whole": 12.0,
            "nested": {"b": [1, True, None], "a": "x"}}
    result = probe.run_task("Echo", args)
    assert not re.search(r'[\\"<>&\x00-\x1f\x7f-\uffff]', probe.server_dir + str(probe_dir))
    expected = (
        '{"server_connection":{"Scheme":"http","Host":"0.0.0.0","Port":9999,"SessionCookie":'
        '{"Name":"session","Value":"' + COOKIE + '","Quoted":false,"Path":"","Domain":"",'
        '"Expires":"0001-01-01T00:00:00Z","RawExpires":"","MaxAge":0,"Secure":false,'
        '"HttpOnly":false,"SameSite":0,"Partitioned":false,"Raw":"","Unparsed":null},'
        f'"Dir":"{probe.server_dir}","PluginDir":"{probe_dir}"}},'
        r'"args":{"f":1e+21,"flag":"yes","hours":"24","mode":"echo",'
        r'"nested":{"a":"x","b":[1,true,null]},'
        r'"note":"\u003cb\u003e \u0026 \u2028\b\f\u0001\t é😀","ratio":"1.50",'
        r'"small":1.5e-7,"whole":12}}')
    assert result.stdin == expected.encode("utf-8")
    assert result.output["stdin"] == expected


def test_session_cookie_is_always_sent_unless_encoding_failed(make_runner, probe_dir):
    minted = make_runner(probe_dir, ("0.0.0.0", 9999), plugin_id="Probe")
    assert minted.run_task("Echo").args and minted.session_cookie
    assert f'"Value":"{minted.session_cookie}"'.encode() in minted.runs[0].stdin
    none = make_runner(probe_dir, ("0.0.0.0", 9999), plugin_id="Probe",
                       session_cookie=NO_SESSION_COOKIE)
    assert b'"SessionCookie":null,' in none.run_task("Echo").stdin


def test_task_args_are_default_args_as_strings_plus_given_args(probe):
    result = probe.run_task("echo", {"hours": 48})  # found by its mode too
    assert result.args == {"mode": "echo", "hours": 48, "ratio": "1.50", "flag": "yes"}


# --- hooks ------------------------------------------------------------------------------------

def test_single_edit_hook_gets_all_24_fields(probe):
    edit = {"id": "45", "title": "New", "details": None, "rating100": 80, "organized": False,
            "tag_ids": ["3", "1"], "groups": [{"group_id": "7", "scene_index": 2}],
            "play_duration": 12.0}
    [result] = probe.hook_sink("Scene.Update.Post", 45, edit, list(edit))
    ctx = result.args["hookContext"]
    assert list(result.args) == ["flag", "hookContext", "mode"] and result.args["flag"] == "yes"
    assert (ctx["id"], ctx["type"]) == (45, "Scene.Update.Post")
    assert list(ctx["input"]) == SCENE_UPDATE_KEYS
    assert ctx["input"] == {**dict.fromkeys(SCENE_UPDATE_KEYS), **edit, "play_duration": 12}
    assert b'"play_duration":12,' in result.stdin
    assert sorted(ctx["inputFields"]) == sorted(edit)
    assert result.output["stdin"].encode() == result.stdin
    assert result.progress == [] and ("info", "hook ran") in result.logs  # no progress in hooks


def test_scene_update_keys_match_stash_schema():
    if not SCHEMA.exists():
        pytest.skip("../shared/stash-schema/v0.30.1 is not available")
    body = re.search(r"input SceneUpdateInput \{(.*?)\n\}", SCHEMA.read_text(), re.S).group(1)
    body = re.sub(r'"[^"\n]*"|#[^\n]*|@deprecated\([^)]*\)', "", body)
    assert set(re.findall(r"^\s*(\w+)\s*:", body, re.M)) == set(SCENE_UPDATE_KEYS)


def test_input_fields_order_is_random():
    rng = random.Random(1)
    orders = {tuple(protocol.go_marshal(protocol.hook_context(
        "Scene.Update.Post", 1, {"id": "1", "title": "t", "code": "c", "date": None}, None, rng))
        .split('"inputFields":')[1]) for _ in range(20)}
    assert len(orders) > 1


def test_bulk_edit_runs_one_process_per_scene_with_the_shared_input(probe):
    bulk = {"ids": ["1", "2", "3"], "title": "T", "details": None, "organized": False,
            "tag_ids": {"ids": ["5"], "mode": "ADD"}, "performer_ids": {"ids": [], "mode": "SET"},
            "urls": {"values": ["https://a"], "mode": "SET"}}
    results = [r for sid in bulk["ids"] for r in
               probe.hook_sink("Scene.Update.Post", int(sid), bulk, list(bulk))]
    shared = ('"input":{"ids":["1","2","3"],"title":"T","urls":{"values":["https://a"],'
              '"mode":"SET"},"organized":false,"performer_ids":{"mode":"SET"},'
              '"tag_ids":{"ids":["5"],"mode":"ADD"}}')
    assert [r.args["hookContext"]["id"] for r in results] == [1, 2, 3]
    assert all(shared.encode() in r.stdin for r in results)
    assert len({r.pid for r in results}) == 3
    assert all(b.started_at >= a.finished_at for a, b in zip(results, results[1:]))


def test_create_hook_has_null_input_and_no_input_fields(probe):
    [result] = probe.hook_sink("Scene.Create.Post", 46, None, None)
    assert b'"hookContext":{"id":46,"type":"Scene.Create.Post","input":null}' in result.stdin


def test_hooks_run_only_for_declared_triggers_and_from_many_threads(probe):
    assert probe.hook_sink("Scene.Destroy.Post", 1, {"id": "1"}, ["id"]) == [] and not probe.runs
    threads = [threading.Thread(target=probe.hook_sink, args=("Scene.Create.Post", i, None, None))
               for i in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.args["hookContext"]["id"] for r in probe.runs) == [1, 2, 3, 4]


# --- stderr / stdout ----------------------------------------------------------------------------

@pytest.mark.parametrize("plugin_id, plain", [("Probe", "error"), ("ProbeWarn", "warning")])
def test_log_lines_and_progress(make_runner, probe_dir, plugin_id, plain):
    result = make_runner(probe_dir, ("0.0.0.0", 9999), plugin_id=plugin_id).run_task("Logs")
    bad = "Error parsing progress value 'abc': strconv.ParseFloat: parsing \"abc\": invalid syntax"
    assert result.logs == [
        ("trace", "t msg"), ("debug", "d msg"), ("info", "i msg"), ("warning", "w msg"),
        ("error", "e msg"), (plain, "plain line"), (plain, "\x01x\x02odd"), ("info", "crlf"),
        ("error", bad), (plain, "\x01i\x02"), (plain, "tail")]
    assert result.progress == [0.25, 0.5, 1.0] and result.output == "logged"


def test_a_stderr_line_over_64k_stops_log_reading_like_bufio_scanner(probe):
    result = probe.run_task("Long line")
    assert result.stderr_truncated and result.messages() == ["before"]
    assert result.output == "EPIPE"  # Stash closed its end: the plugin's next write failed


@pytest.mark.parametrize("task, args, output, error, code", [
    ("Error", {}, None, "boom", 0),
    ("Error", {"code": 2}, None, "boom", 2),
    ("Exit", {"code": 3}, "", "exit status 3", 3),
    ("Stdout", {"text": "not json\n"}, "not json\n", None, 0),
    ("Stdout", {"text": '{"Output": {"n": 5}}'}, {"n": 5}, None, 0),
    ("Stdout", {"text": '{"output": 1, "error": 5}'}, '{"output": 1, "error": 5}', None, 0),
    ("Stdout", {"text": '{"output": 1} trailing'}, '{"output": 1} trailing', None, 0),
    ("Stdout", {"text": "null"}, None, None, 0),
])
def test_stdout_and_exit_status_become_output_and_error(probe, task, args, output, error, code):
    result = probe.run_task(task, args)
    assert (result.output, result.error, result.exit_code) == (output, error, code)


def test_wall_time_is_reported(probe):
    result = probe.run_task("Slow", {"seconds": 0.3})
    assert 0.3 <= result.process_s <= result.wall_s < 10
    assert result.finished_at - result.started_at == result.wall_s


# --- hangs and cancel ---------------------------------------------------------------------------

def test_a_child_holding_stdout_hangs_the_run_like_stash(probe, tmp_path):
    pidfile = tmp_path / "child.pid"
    handle = probe.start_task("Hang", {"pidfile": str(pidfile)})
    try:
        # the plugin has exited (however slowly it started); only its child holds stdout now
        wait_until(lambda: handle.result.process_s is not None, 60, what="the plugin to exit")
        with pytest.raises(PluginHung, match="stdout is still open") as exc:
            handle.wait(2)
    finally:
        _kill_child(pidfile)
    assert exc.value.result.hung and exc.value.result.exit_code == 0
    assert probe.runs == [exc.value.result]


@pytest.mark.parametrize("task", ["Detached", "Stderr child"])
def test_a_child_without_our_stdout_does_not_hang(probe, tmp_path, task):
    pidfile = tmp_path / "child.pid"
    try:
        result = probe.run_task(task, {"pidfile": str(pidfile)}, timeout=60)
        # the run ended while the child (60 s asleep) still lives: it waited for the plugin,
        # not for the child (Cmd.Wait closes stderr after exit)
        os.kill(int(pidfile.read_text()), 0)
    finally:
        _kill_child(pidfile)
    assert result.error is None and not result.hung


def test_cancel_kills_the_task_with_sigkill(probe):
    handle = probe.start_task("Sleep")
    wait_until(lambda: ("info", "started") in handle.result.logs, 60, what="the task to start")
    handle.cancel()
    result = handle.wait(timeout=60)
    assert (result.error, result.exit_code) == ("signal: killed", -signal.SIGKILL)
    assert handle.wait() is result and probe.runs == [result]


# --- with the Stash emulator ------------------------------------------------------------------

def _graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(url + "/graphql", json.dumps({"query": query}).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_emulator_mutations_fire_hooks_through_the_runner(request, make_runner, probe_dir):
    try:
        stash = request.getfixturevalue("stash")
    except pytest.FixtureLookupError:
        pytest.skip("the Stash emulator fixture `stash` is not available")
    probe = make_runner(probe_dir, ("0.0.0.0", stash.port), plugin_id="Probe",
                        session_cookie=stash.create_session())
    stash.hook_sink = probe.hook_sink
    assert "errors" not in _graphql(stash.url, 'mutation { sceneUpdate(input: {id: "1", '
                                                'title: "Renamed", tag_ids: []}) { id } }')
    assert "errors" not in _graphql(stash.url, 'mutation { bulkSceneUpdate(input: '
                                                '{ids: ["1", "2"], organized: true}) { id } }')
    single, *bulk = [r.args["hookContext"] for r in probe.runs]
    assert list(single["input"]) == SCENE_UPDATE_KEYS and single["input"]["tag_ids"] == []
    assert sorted(single["inputFields"]) == ["id", "tag_ids", "title"]
    assert [(h["id"], h["input"]) for h in bulk] == [
        (1, {"ids": ["1", "2"], "organized": True}), (2, {"ids": ["1", "2"], "organized": True})]


def test_runner_fixture_wires_plexsync_to_the_stash_emulator(runner, stash):
    assert runner.manifest.id == "PlexSync" and runner.host == "0.0.0.0"
    assert stash.hook_sink == runner.hook_sink
    assert stash.authenticate({"Cookie": f"session={runner.session_cookie}"}, {}) == \
        ("session", True)
