"""Proof 6 (issue 5): after every kind of scenario, the Plex token, the Stash API key and the
session cookie appear in no log line, log file, DLQ entry or URL stored in Plex.

Every other proof (tests/proofs/test_proof_*.py) already ends with this check on its own `secured`
environment (a Stash that requires an API key, the session cookie Stash hands to plugins, a
distinctive Plex token). This module runs them all again, shortened, one after another against
ONE environment -- concurrent hooks, SIGKILLed drainers, Plex failing in every way the emulator
can, a wrong token, bad input, settings with the token pasted in the wrong place, the CLI with
the API key, every task, an expired session -- and then reads everything that was written.
It also checks that each secret was really in use, so the search cannot pass vacuously.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from sync_queue.store import QueueStore

from sync_queue.lock import drain_lock_held
from sync_queue.state import QueueState
from tests.e2e_fixtures import PROOF_PLEX_TOKEN, PROOF_STASH_API_KEY, wait_until
from tests.emulators.plex_library import PART_I_FILE, PART_II_FILE
from tests.emulators.stash_fixtures import make_png, png_data_url
from tests.harness.fixtures import PLUGIN_ROOT
from tests.proof_checks import fire_hooks_at_once, secret_leaks, tracebacks, twin_scenes

WRONG_TOKEN = "wrongTok-0Zx93"
TASKS = ("queue_status", "dlq_list", "health_check", "dry_run", "process_queue")


def run_plexsync_raw(env, raw: bytes) -> str:
    child_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    child_env["PLEXSYNC_DATA_DIR"] = str(env.data_dir)
    done = subprocess.run([sys.executable, str(PLUGIN_ROOT / "PlexSync.py")], input=raw,
                          capture_output=True, env=child_env, timeout=60)
    return (done.stdout + done.stderr).decode("utf-8", "replace")


def run_cli(env, *args, **extra_env) -> str:
    child_env = {k: v for k, v in os.environ.items()
                 if k != "PYTHONPATH" and not k.startswith("PLEXSYNC_")}
    child_env.update(PLEXSYNC_STASH_URL=env.stash.url, PLEXSYNC_DATA_DIR=str(env.data_dir),
                     PLEXSYNC_STASH_API_KEY=PROOF_STASH_API_KEY, **extra_env)
    done = subprocess.run([sys.executable, str(PLUGIN_ROOT / "process_queue.py"), *args],
                          capture_output=True, text=True, env=child_env, timeout=180, cwd="/")
    return done.stdout + done.stderr


@pytest.mark.slow
def test_no_secret_in_any_log_file_dead_letter_or_stored_url(secured):
    env = secured
    env.secrets += (WRONG_TOKEN,)
    env.configure(stash_url_for_plex=env.stash.url)  # actor photos on: their URLs are checked too
    extra: dict[str, str] = {}
    scenes = twin_scenes(env, 40, "secret", performers=lambda n: ["Ann Able", f"Perf {n}"])
    ann = env.library.performers["Ann Able"]  # has an image: Plex gets its URL as actor thumb
    env.stash.set_performer_image(ann, make_png("Ann", 2, 3))

    # concurrent hooks, a cover upload, an ambiguous match (DLQ)
    fire_hooks_at_once(env, {sid: f"secret {sid}" for sid in list(scenes)[:10]})
    env.edit(env.library.scenes["part1"], cover_image=png_data_url(make_png("new cover")))
    both = env.stash.add_scene("Both Parts", files=[PART_I_FILE, PART_II_FILE])
    env.edit(both, title="Both Parts!")
    wait_until(lambda: env.dead_letters(), 60, what="the ambiguous scene's dead letter")

    # SIGKILLed drainers mid-drain
    env.plex.latency(0.01)
    env.runner.start_task("sync_all")
    for round_no in range(3):
        wait_until(lambda: drain_lock_held(env.data_dir), 60, what="a drainer")
        time.sleep(0.3)
        env.kill_drainer()
        wait_until(lambda: not drain_lock_held(env.data_dir), 60, what="the kill")
        env.start_drainer()
    env.wait_drained(timeout=120)

    # Plex failing every way the emulator can (fewer than 5 in a row: the breaker's 60 s pause
    # is proof 3's business): 500, a connection dropped mid-body, a hung request, a 400
    env.plex.latency(0)
    env.configure(read_timeout=2)
    env.plex.fail_next(1, 500, method="PUT")
    env.plex.drop_next(1, "body", method="GET", path_prefix="/library/metadata")
    env.plex.hang_next(1, method="GET", path_prefix="/library/metadata")
    env.plex.fail_next(1, 400, method="PUT")
    for sid in list(scenes)[10:15]:
        env.edit(sid, title=f"failing Plex {sid}")
    env.wait_drained(timeout=120)
    env.configure()

    # wrong token, then fixed
    env.configure(plex_token=WRONG_TOKEN)
    env.edit(list(scenes)[15], title="wrong token")
    wait_until(lambda: QueueState(env.data_dir).auth_failure(), 30, what="the auth failure")
    env.wait_drainer_exit()
    env.edit(list(scenes)[16], title="still the wrong token")
    env.configure()
    env.edit(list(scenes)[17], title="token fixed")
    env.wait_drained(timeout=60)

    # settings with the token pasted where it does not belong
    for bad in ({"plex_url": f"plex.local:32400/?X-Plex-Token={PROOF_PLEX_TOKEN}"},
                {"plex_url": f"ftp://admin:{PROOF_PLEX_TOKEN}@plex.local"},
                {"max_retries": PROOF_PLEX_TOKEN}, {"path_map": PROOF_PLEX_TOKEN},
                {"plex_libraries": 5, "read_timeout": PROOF_PLEX_TOKEN}):
        env.configure(**bad)
        env.edit(list(scenes)[18], title="bad settings")
        env.runner.run_task("queue_status")
    env.configure(plex_url=f"{env.plex.url}/library?X-Plex-Token={PROOF_PLEX_TOKEN}")
    env.edit(list(scenes)[18], title="token in a working plex_url")  # accepted: a URL
    time.sleep(3)
    env.kill_drainer()  # it retries with that URL; the fixed settings need a new drainer
    env.configure()

    # bad input: raw stdin carrying the cookie, hostile hook input
    cookie = env.runner.session_cookie
    for raw in (b'{"server_connection": {"SessionCookie": {"Value": "' + cookie.encode() + b'"}',
                b'{"server_connection": {"SessionCookie": "' + cookie.encode() + b'"}}',
                b'{"server_connection": {"SessionCookie": {"Value": "' + cookie.encode()
                + b'"}}, "args": {"hookContext": {"id": "x' + cookie.encode() + b'"}}}'):
        extra[f"raw stdin {raw[:30]!r}"] = run_plexsync_raw(env, raw)

    # every task through the runner, and the CLI with the API key
    for mode in TASKS:
        env.runner.run_task(mode)
    for args in (["status", "--json"], ["dlq", "list"], ["health", "-v"], ["sync-all", "-v"],
                 ["drain", "--plex-token", WRONG_TOKEN], ["dry-run", "--json"]):
        extra[f"cli {args}"] = run_cli(env, *args)
    env.plex.down()
    extra["cli health while Plex is down"] = run_cli(env, "health", "-v")
    env.plex.up()

    # the session Stash gave PlexSync expires: the drainer's reads and cover fetches are
    # refused; the hook (which asks Stash nothing) keeps the edit for a drainer Stash accepts
    env.stash._sessions.discard(cookie)
    env.edit(list(scenes)[19], title="after the session expired")
    wait_until(lambda: not drain_lock_held(env.data_dir)
               and QueueStore(env.data_dir).counts()["ready"] == 1, 60,
               what="the drainer to give up on the refused reads")
    assert QueueStore(env.data_dir).counts()["inbox"] == 1  # kept for a drainer Stash accepts

    # the secrets were really in play ...
    auths = {r.auth for r in env.stash.graphql_requests()}
    assert {"session", "api_key_header"} <= auths, auths
    assert env.plex.count() > 100
    assert {"fail", "drop", "hang"} <= {r.fault for r in env.plex.requests}
    assert any(a["thumb"] for p in scenes.values() for a in env.plex_item(p)["actors"])
    assert env.dead_letters()
    # ... and are nowhere to be read
    leaks = secret_leaks(env, extra)
    assert leaks == [], "\n".join(leaks)
    assert tracebacks(env, extra) == []
    print(f"\nproof 6: {len(env.runner.runs)} plugin runs, {len(env.spawned)} drainers started "
          f"by the test, {len(extra)} raw/CLI runs, {env.plex.count()} Plex requests, "
          f"{len(env.dead_letters())} dead letter(s); 0 secrets found in "
          f"{len(extra) + 3 * len(env.runner.runs)} outputs, the data folder and Plex's items")
