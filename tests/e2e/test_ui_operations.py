"""The web UI's runPluginOperation modes run exactly as Stash runs them (tests/harness runner,
Stash and Plex emulators): reads answer from local files without asking Plex, actions reuse the
task code and answer JSON, and no answer carries a secret."""
from __future__ import annotations

import json
import os
import sys
import time

from hooks.ui import READ_MODES
from tests.e2e_fixtures import PROOF_PLEX_TOKEN, PROOF_STASH_API_KEY
from tests.emulators.plex_library import PART_I_FILE
from tests.stash.test_hook_path_imports import HEAVY, _imported
from tests.waiting import wait_until


def operation(env, **args) -> dict:
    run = env.runner.run_operation(args)
    assert run.error is None, run.error
    assert isinstance(run.output, dict), run.output
    return run.output


def quiet(plex, for_s: float = 1.5) -> None:
    """Until Plex saw no request for `for_s` seconds."""
    def still():
        before = plex.count()
        time.sleep(for_s)
        return plex.count() == before
    wait_until(still, 30, interval=0, what="Plex to be left alone")


def test_scene_read_follows_a_sync_and_never_asks_plex(synced):
    scene = str(synced.library.scenes["part1"])
    first = operation(synced, mode="ui_scene", scene_id=scene, check_setup=True)
    assert first["state"] == "not_synced" and first["no_data"]
    synced.edit(scene, title="Seen In The Panel")
    synced.wait_drained()
    quiet(synced.plex)  # the drainer's last requests (its play import) come after the queue
    synced.plex.clear_log()
    answer = operation(synced, mode="ui_scene", scene_id=scene)
    assert synced.plex.count() == 0  # a panel read never contacts Plex
    assert answer["state"] == "synced"
    assert answer["item"]["title"] == "Seen In The Panel"
    assert "title" in answer["last_sync"]["changed"]
    key = synced.plex.find_by_file(PART_I_FILE)[0]
    assert answer["item"]["open_in_plex"] == (
        f"{synced.plex.url}/web/index.html#!/server/{synced.plex.machine_identifier}"
        f"/details?key=%2Flibrary%2Fmetadata%2F{key}")
    overview = operation(synced, mode="ui_overview")
    assert synced.plex.count() == 0
    assert overview["synced_scenes"] == 1 and overview["plex"]["state"] == "answered"


def test_setup_states_are_read_from_stash_when_asked(synced):
    scene = str(synced.library.scenes["part1"])
    synced.configure(plex_url=None, plex_token=None)
    answer = operation(synced, mode="ui_scene", scene_id=scene, check_setup=True)
    assert answer["state"] == "not_set_up"
    assert "Plex URL" in answer["line"] and answer["settings_url"] == "/settings?tab=plugins"
    synced.configure(enabled=False)
    assert operation(synced, mode="ui_scene", scene_id=scene, check_setup=True)["state"] == "off"
    # the flag left by that read keeps polls correct without asking Stash again
    assert operation(synced, mode="ui_scene", scene_id=scene)["state"] == "off"
    synced.configure()
    assert operation(synced, mode="ui_scene", scene_id=scene, check_setup=True)["state"] != "off"


def test_sync_now_retry_one_and_delete(synced):
    part1, part2 = (str(synced.library.scenes[s]) for s in ("part1", "part2"))
    synced.plex.fail_for(600, 400, path_prefix="/library/sections/")  # every edit refused
    for scene in (part1, part2):
        queued = operation(synced, mode="ui_sync_now", scene_id=scene)
        assert queued["ok"] and queued["queued"]
        synced.wait_drained()
    assert {e.scene_id for e in synced.dead_letters()} == {part1, part2}
    assert operation(synced, mode="ui_scene", scene_id=part1)["state"] == "failed"
    synced.plex.clear_faults()
    retried = operation(synced, mode="ui_retry", scene_id=part1)
    assert retried["requeued"] == 1 and retried["drain"]["synced"] == 1
    assert {e.scene_id for e in synced.dead_letters()} == {part2}  # only the one asked for
    deleted = operation(synced, mode="ui_delete", scene_id=part2)
    assert deleted["deleted"] == 1 and synced.dead_letters() == []
    bad = synced.runner.run_operation({"mode": "ui_delete", "scene_id": "x"})
    assert "scene_id" in bad.error


def test_no_answer_carries_a_secret(secured):
    scene = str(secured.library.scenes["part1"])
    answers = [operation(secured, mode="ui_sync_now", scene_id=scene)]
    secured.wait_drained()
    answers += [operation(secured, mode=m, scene_id=scene, check_setup=True) for m in sorted(READ_MODES)]
    answers += [operation(secured, mode="ui_health_check"), operation(secured, mode="ui_retry"),
                operation(secured, mode="ui_delete", scene_id=scene)]
    secured.configure(plex_token="wrong-" + PROOF_PLEX_TOKEN)  # Plex refuses it: error lines
    answers += [operation(secured, mode="ui_health_check")]
    text = json.dumps(answers)
    assert "Plex token accepted" in text and "refused" in text  # both kinds of answer are here
    for secret in secured.secrets:
        assert secret not in text
    # The check can fail: the same search finds the token where Stash does keep it.
    assert PROOF_PLEX_TOKEN in json.dumps(secured.stash.plugin_settings("PlexSync"))
    assert PROOF_STASH_API_KEY not in text


def test_read_modes_load_no_site_packages_and_no_worker(synced, project_root):
    """The panel polls: its read path is as lean as the hook's (no site-packages, plexapi,
    pydantic, persist-queue or worker code, and no request to Stash in steady state)."""
    synced.edit(str(synced.library.scenes["part1"]), title="Lean")
    synced.wait_drained()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PLEXSYNC_DATA_DIR"] = str(synced.data_dir)
    request = json.dumps({"server_connection": synced.server_connection(),
                          "args": {"mode": "ui_scene", "scene_id": str(synced.library.scenes["part1"])}})
    names, out, err = _imported([sys.executable, "-S", str(project_root / "PlexSync.py")],
                                request.encode(), project_root, env)
    assert json.loads(out)["output"]["state"] == "synced", (out, err)
    assert not {n for n in names if n.split(".")[0] in HEAVY + ("worker", "plex", "site")}
    # no client for Stash or Plex is even loaded (pathlib brings urllib.parse, nothing more)
    assert not {n for n in names if n in ("urllib.request", "http.client", "socket")}
