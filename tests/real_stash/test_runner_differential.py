"""Issue 10, item 7 (plugin side): tests/harness/runner.py starts a hook the way real Stash does.

A recorder plugin is installed in the real Stash and run by the runner behind the Stash
emulator; the same edits reach both. Their stdin (key order included: Stash marshals Go
structs), PYTHONPATH and argv must match, up to the values that name the server or session.
"""
from __future__ import annotations

import json
import shutil

import pytest

from tests.real_stash.conftest import LIBRARY_CLIPS, clip_path

RECORDER_PY = r'''
import json, os, sys
raw = sys.stdin.read()
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "runs.jsonl"), "a") as out:
    out.write(json.dumps({"stdin": raw, "pythonpath": os.environ.get("PYTHONPATH"),
                          "argv": sys.argv[1:]}) + "\n")
print(json.dumps({"output": "recorded"}))
'''
RECORDER_YML = """\
name: Recorder
exec:
  - python3
  - "{pluginDir}/recorder.py"
  - "--dir={pluginDir}"
interface: raw
hooks:
  - name: Record
    triggeredBy: [Scene.Update.Post]
"""
UPDATE = "mutation U($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }"
BULK = "mutation B($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id } }"


def write_recorder(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recorder.py").write_text(RECORDER_PY)
    (folder / "Recorder.yml").write_text(RECORDER_YML)
    return folder


def runs(folder) -> list[dict]:
    lines = (folder / "runs.jsonl").read_text().splitlines() if (folder / "runs.jsonl").exists() else []
    return [json.loads(line) for line in lines]


def ordered(text: str):
    """JSON with key order kept (lists of pairs), values of server/session left out."""
    def pairs(items):
        # inputFields comes from a Go map: its order is random in Stash (and seeded in the runner)
        return [(k, "<value>" if k in _VARYING else sorted(v) if k == "inputFields" else v)
                for k, v in items]
    return json.loads(text, object_pairs_hook=pairs)


_VARYING = {"Host", "Port", "Value", "Dir", "PluginDir", "id", "ids"}


def edits(ids: list[str]) -> list[tuple[str, dict]]:
    return [(UPDATE, {"input": {"id": ids[0], "title": "Recorded", "tag_ids": [], "rating100": 40}}),
            (BULK, {"input": {"ids": ids, "details": "bulk recorded",
                              "tag_ids": {"mode": "ADD", "ids": []}}})]


@pytest.fixture
def real_recorder(stage):
    folder = write_recorder(stage.stash.plugins_dir / "recorder")
    stage.stash.reload_plugins()
    yield folder
    shutil.rmtree(folder)
    stage.stash.reload_plugins()
    stage.wait_drained()


def test_runner_hands_a_hook_what_real_stash_hands_it(stage, real_recorder, stash_empty, make_runner,
                                                       tmp_path):
    real_ids = [stage.scene_ids[str(clip_path(stage.stash.media, LIBRARY_CLIPS - n))] for n in (10, 11)]
    for query, variables in edits(real_ids):
        stage.stash.graphql(query, variables)

    emu_folder = write_recorder(tmp_path / "plugins" / "recorder")
    runner = make_runner(emu_folder, ("0.0.0.0", stash_empty.port), plugin_id="Recorder",
                         session_cookie=stash_empty.create_session())
    stash_empty.hook_sink = runner.hook_sink
    try:
        emu_ids = [str(stash_empty.add_scene(f"s{n}", files=[f"/m/{n}.mp4"])) for n in range(2)]
        for query, variables in edits(emu_ids):
            status = stash_empty.graphql(query, variables)
            assert not status.get("errors"), status
    finally:
        stash_empty.hook_sink = None

    real, emulated = runs(real_recorder), runs(emu_folder)
    assert len(real) == len(emulated) == 3  # one run per scene, the bulk edit's too
    for r, e in zip(real, emulated):
        assert ordered(r["stdin"]) == ordered(e["stdin"])
        assert [a.split("=")[0] for a in r["argv"]] == [a.split("=")[0] for a in e["argv"]]
    assert real[0]["pythonpath"] == str(real_recorder.parent)   # the plugin folder's parent
    assert emulated[0]["pythonpath"] == str(emu_folder.parent)
