"""Figure 7: importing 10,000 Plex history entries into Stash (issue 14): time, requests, memory.

Plex emulator: N/4 items with 4 plays each by the owner (+ 1 play each by a shared user, which
must be ignored); Stash emulator: one scene per item; sync records link them, as after a
Sync All. The measured child (bench/plays_child.py) runs the "Import Plex plays" task's code
(worker.plays_import.run_import, full) and then the incremental run a background drain makes
when nothing is new. Requests are counted from both emulators' request logs, not from the
import's own report. Baseline: the plays a correct import must add (= N).
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from common import Figure, cli, mib, run_measured_child, secs
from loopback import PlexEmulator, StashEmulator
from sync_queue.records import SyncRecords

PLAYS_PER_ITEM = 4
FULL_ENTRIES, QUICK_ENTRIES = 10_000, 1_000
CHILD = Path(__file__).with_name("plays_child.py")
T0 = 1_700_000_000


def _world(plex, stash, entries: int, data_dir: Path) -> None:
    from tests.emulators.plex_plays import add_play
    items = entries // PLAYS_PER_ITEM
    section = plex.add_section("Movies", location="/data/movies")
    keys = plex.add_items(section, [{"title": f"Clip {i}", "files": [f"/data/movies/{i}.mp4"],
                                     "duration": 600_000} for i in range(items)])
    with plex.state.lock:
        for n, rk in enumerate(keys):
            item = plex.state.get(rk)
            for play in range(PLAYS_PER_ITEM):
                add_play(plex.state, item, T0 + n * 10 + play * 86_400)
            add_play(plex.state, item, T0 + n * 10 + 5, account_id=2)
    records = SyncRecords(data_dir)
    for i, rk in enumerate(keys):
        scene = stash.add_scene(f"Clip {i}", files=[f"/data/movies/{i}.mp4"])
        records.put(scene, {"scene_id": scene, "rating_key": str(rk)})


def _child(plex, stash, data_dir: Path, mode: str) -> dict:
    plex.clear_log()
    stash.clear_logs()
    out = json.loads(run_measured_child(
        [sys.executable, str(CHILD), plex.url, plex.token, stash.url, str(data_dir), mode],
        "", timeout=900))
    out["plex_seen"] = plex.count()
    out["stash_seen"] = len(stash.graphql_requests())
    return out


def run(quick: bool) -> Figure:
    entries = QUICK_ENTRIES if quick else FULL_ENTRIES
    figure = Figure("plays_import", quick)
    with tempfile.TemporaryDirectory() as tmp, PlexEmulator(token="bench-token") as plex, \
            StashEmulator() as stash:
        data_dir = Path(tmp) / "data"
        started = time.perf_counter()
        _world(plex, stash, entries, data_dir)
        built = time.perf_counter() - started
        full = _child(plex, stash, data_dir, "full")
        idle = _child(plex, stash, data_dir, "incremental")
        with stash.state.lock:
            stash_plays = sum(len(s.get("play_history", [])) for s in stash.state.scenes.values())
    if full["plays_added"] != entries or stash_plays != entries or idle["plays_added"]:
        raise RuntimeError(f"import added {full['plays_added']}, Stash holds {stash_plays}, "
                           f"second run {idle['plays_added']} (expected {entries}, {entries}, 0)")
    label = f"{entries:,} history entries"
    figure.add(f"7a import {label}: wall", secs(full["seconds"]),
               baseline=f"CPU {secs(full['cpu_s'])}")
    figure.add(f"7b import {label}: requests", f"Plex {full['plex_seen']}, Stash "
               f"{full['stash_seen']}", baseline=f"{entries // PLAYS_PER_ITEM:,} scenes")
    figure.add(f"7c import {label}: peak RSS", mib(full["rss_kib"]),
               baseline=f"after imports {mib(full['rss_imports_kib'])}")
    figure.add("7d next drain, nothing new: requests", f"Plex {idle['plex_seen']}, Stash "
               f"{idle['stash_seen']}", goal="1 Plex, 0 Stash",
               ok=idle["plex_seen"] == 1 and idle["stash_seen"] == 0,
               baseline=f"wall {secs(idle['seconds'])}")
    figure.details = {"full": full, "incremental": idle, "world_build_s": built,
                      "plays_in_stash": stash_plays}
    return figure


if __name__ == "__main__":
    cli(run)
