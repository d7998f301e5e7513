"""`process_queue.py plex-login` as a person runs it: a real subprocess against the Stash
emulator and the plex.tv world, reading stdout, stderr and the exit status."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from plex.account.session import ROUTES_ENV
from tests.emulators.plextv_server import ServerResource
from tests.emulators.plextv_world import ACCOUNT_TOKEN, PlexTvWorld
from tests.waiting import wait_until

CLI = str(Path(__file__).resolve().parents[2] / "process_queue.py")
KEPT = {"path_map": "/data => /plexdata", "max_tags": 7}


@pytest.fixture
def stash(stash_factory):
    emulator = stash_factory()
    emulator.set_plugin_settings("PlexSync", dict(KEPT))
    return emulator


def start_cli(world, stash, tmp_path, *args) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEXSYNC_")}
    env.pop("PYTHONPATH", None)
    env.update({ROUTES_ENV: world.routes_json(), "PLEXSYNC_STASH_URL": stash.url,
                "PLEXSYNC_DATA_DIR": str(tmp_path / "data")})
    return subprocess.Popen([sys.executable, CLI, "plex-login", *args], env=env, cwd="/",
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def enter_code_when_shown(world) -> threading.Thread:
    """The person reads the code and enters it at plex.tv/link a moment later."""
    def person():
        wait_until(world.latest_code, 30, interval=0.05, what="a code from plex.tv")
        time.sleep(0.5)
        world.authorize_latest()
    thread = threading.Thread(target=person, daemon=True)
    thread.start()
    return thread


def test_code_link_countdown_then_the_named_server_is_stored_and_checked(world, stash, tmp_path):
    enter_code_when_shown(world)
    cli = start_cli(world, stash, tmp_path, "--server", "living ROOM")
    out, err = cli.communicate(timeout=90)

    assert cli.returncode == 0, out + err
    code = world.latest_code()
    assert f"Open https://plex.tv/link and enter the code: {code}\n" in out
    assert "waiting for the code: 29:5" in err and "(Ctrl-C cancels)" in err
    assert "  1. Living room — Plex 1.41.3.9314-a0bfb8370, local/remote/relay" in out
    assert "  2. Friend's server — Plex 1.41.3.9314-a0bfb8370, remote, shared by bob (cannot be chosen)" in out
    live = f"http://127.0.0.1:{world.plex.port}"
    assert f"Plex URL set to {live} (tried: https://127-0-0-1." in out and "connection refused" in out
    assert "Health Check:" in out and "✓ Plex token accepted" in out
    assert stash.plugin_settings("PlexSync") == {**KEPT, "plex_token": ACCOUNT_TOKEN, "plex_url": live}
    assert ACCOUNT_TOKEN not in out + err


def test_settings_already_there_are_replaced_only_after_yes_and_the_one_owned_server_is_taken(
        world, stash, tmp_path):
    stash.set_plugin_settings("PlexSync", {**KEPT, "plex_url": "http://old:32400",
                                           "plex_token": "typed-by-hand-token"})
    cli = start_cli(world, stash, tmp_path)
    out, err = cli.communicate("n\n", timeout=60)
    assert cli.returncode == 1 and "Replace them" in out
    assert "Nothing changed: the Plex URL and token stay as they are." in out
    assert world.plextv.pins == {}

    enter_code_when_shown(world)
    cli = start_cli(world, stash, tmp_path)
    out, err = cli.communicate("y\n", timeout=90)
    assert cli.returncode == 0, out + err
    assert "Using 'Living room', the one server this account owns." in out
    assert stash.plugin_settings("PlexSync")["plex_token"] == ACCOUNT_TOKEN


def test_no_answer_on_stdin_says_which_flag_to_pass(world, stash, tmp_path):
    stash.set_plugin_settings("PlexSync", {"plex_token": "typed-by-hand-token"})
    cli = start_cli(world, stash, tmp_path)
    out, err = cli.communicate("", timeout=60)
    assert cli.returncode == 1 and "No answer on stdin: pass --yes" in out


def test_ctrl_c_while_waiting_cancels_and_changes_nothing(world, stash, tmp_path):
    cli = start_cli(world, stash, tmp_path)
    wait_until(world.latest_code, 30, interval=0.05, what="a code from plex.tv")
    time.sleep(0.3)
    cli.send_signal(signal.SIGINT)
    out, err = cli.communicate(timeout=30)
    assert cli.returncode == 130
    assert "Cancelled: nothing was changed (the code expires by itself)." in out
    assert "Traceback" not in err
    assert stash.plugin_settings("PlexSync") == KEPT


def test_a_code_that_expires_ends_with_the_next_step(stash, tmp_path):
    with PlexTvWorld(pin_lifetime=3) as world:
        cli = start_cli(world, stash, tmp_path)
        out, err = cli.communicate(timeout=60)
    assert cli.returncode == 1
    assert "error: The code expired before it was entered at plex.tv/link: start again (Connect " \
           "to Plex, or process_queue.py plex-login) for a new code." in err
    assert stash.plugin_settings("PlexSync") == KEPT


def test_an_unknown_server_name_lists_the_servers_there_are(world, stash, tmp_path):
    enter_code_when_shown(world)
    cli = start_cli(world, stash, tmp_path, "--server", "Attic")
    out, err = cli.communicate(timeout=90)
    assert cli.returncode == 1
    assert "error: The Plex account has no server 'Attic': pick one of 'Living room', " \
           "\"Friend's server\"." in err


def test_json_keeps_stdout_for_the_answer_and_ctrl_c_after_signing_in_says_what_is_stored(
        world, stash, tmp_path):
    world.account.servers.append(ServerResource("Attic", connections=[]))  # two owned: it asks
    enter_code_when_shown(world)
    cli = start_cli(world, stash, tmp_path, "--json")
    wait_until(lambda: stash.plugin_settings("PlexSync").get("plex_token"), 60, interval=0.1,
               what="the token to be stored")
    time.sleep(1.0)  # now at the question: which server
    cli.send_signal(signal.SIGINT)
    out, err = cli.communicate(timeout=30)
    assert cli.returncode == 130
    answer = json.loads(out)
    assert answer["stopped"] is True and answer["text"].startswith(
        "Cancelled: the new Plex token is stored, the Plex URL is not")
    assert "enter the code:" in err and "Which server (1-3)?" in err
    assert ACCOUNT_TOKEN not in out + err
