"""Issue 17 point 4: what a read of PlexSync's scene panel costs inside the REAL Stash server.

The scene panel and the PlexSync page poll PlexSync through Stash's runPluginOperation every
3 s while they are open. Goal: a scene-panel read (mode ui_scene) costs at most 1.5 x an empty
Python plugin operation, measured in one run.

Starts ../shared/stash-server (temporary HOME and MEDIA, a free loopback port), scans clips
made with ffmpeg, installs two plugins the way users do (files in plugins/, reloadPlugins): an
empty Python plugin (reads stdin, prints {"output":"ok"}) and PlexSync, whose Sync All task
syncs every scene into the Plex emulator first (so the panel reads a real queue.db with sync
records, a Plex server identity and play-import tables). Then it times Stash's own GraphQL
requests, wall clock from request to answer, in ALTERNATING rounds (the order rotates every
round):

  graphql     `{ version { version } }`: Stash answering without starting a process
  empty       runPluginOperation on the empty Python plugin
  scene       runPluginOperation(PlexSync, {mode: ui_scene, scene_id}): a synced scene's panel
              polling while nothing changes (its reading of queue.db is reused)
  scene_read  the same after queue.db changed: the bench deletes the kept reading first, so
              the poll loads SQLite and reads queue.db (the first poll after every commit)
  overview    runPluginOperation(PlexSync, {mode: ui_overview}): the PlexSync page

and prints medians and the goal ratios scene / empty and scene_read / empty (also
(x - graphql) / (empty - graphql), the process part alone). Both plugins run the same interpreter (Stash's Python path is set to
this one); PlexSync as PlexSync.yml makes Stash run it (python3 -S).

    .venv/bin/python bench/ui_read_cost_real_stash.py [--rounds 31] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hook_cost_real_stash import Stash, no_real_stash, stash_with_clips  # noqa: E402
from sync_queue.view import cache as view_cache  # noqa: E402

SCENES = 20
KINDS = ("graphql", "empty", "scene", "scene_read", "overview")
OPERATION = "mutation($p: ID!, $a: Map) { runPluginOperation(plugin_id: $p, args: $a) }"


def requests_for(scene_id: str) -> dict:
    return {
        "graphql": ("{ version { version } }", {}),
        "empty": (OPERATION, {"p": "EmptyHook", "a": {}}),
        "scene": (OPERATION, {"p": "PlexSync", "a": {"mode": "ui_scene", "scene_id": scene_id}}),
        "scene_read": (OPERATION, {"p": "PlexSync", "a": {"mode": "ui_scene", "scene_id": scene_id}}),
        "overview": (OPERATION, {"p": "PlexSync", "a": {"mode": "ui_overview"}}),
    }


def measure(stash: Stash, scene_id: str, rounds: int, data_dir: Path) -> dict:
    calls = requests_for(scene_id)
    kept = data_dir / view_cache.CACHE_DIR / f"scene-{scene_id}.json"
    times: dict = {kind: [] for kind in KINDS}
    for r in range(rounds):
        for kind in KINDS[r % len(KINDS):] + KINDS[:r % len(KINDS)]:
            query, variables = calls[kind]
            if kind == "scene_read":
                kept.unlink(missing_ok=True)  # as after a commit: the poll reads queue.db
            elif kind == "scene" and not kept.exists():
                stash.gql(query, variables)  # the poll before it (scene_read removed it)
            started = time.perf_counter()
            stash.gql(query, variables)
            times[kind].append(time.perf_counter() - started)
    return times


def report(times: dict) -> dict:
    med = {kind: median(values) for kind, values in times.items()}
    base, empty = med["graphql"], med["empty"]
    return {
        "median_ms": {k: round(v * 1000, 2) for k, v in med.items()},
        "samples": {k: len(v) for k, v in times.items()},
        "ratio scene / empty (goal <= 1.5)": round(med["scene"] / empty, 2),
        "ratio scene_read / empty": round(med["scene_read"] / empty, 2),
        "ratio overview / empty": round(med["overview"] / empty, 2),
        "ratio (scene - graphql) / (empty - graphql)": round((med["scene"] - base) / max(empty - base, 1e-9), 2),
    }


def wait_synced(stash: Stash, scene_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = stash.gql(OPERATION, {"p": "PlexSync", "a": {"mode": "ui_scene", "scene_id": scene_id}})
        answer = answer["runPluginOperation"]
        if answer.get("state") == "synced" or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--json", type=Path, help="also write the results here")
    opts = parser.parse_args()
    if no_real_stash():
        return 2
    with stash_with_clips("plexsync-uicost-", SCENES) as (home, stash, _, scenes, _):
        stash.wait_job(stash.gql('mutation { runPluginTask(plugin_id: "PlexSync", '
                                 'task_name: "Sync All") }')["runPluginTask"])
        scene_id = scenes[0]["id"]
        panel = wait_synced(stash, scene_id)
        if panel.get("state") != "synced":
            print(f"the scene never became synced: {panel}")
            return 1
        data_dir = home / "plexsync"
        time.sleep(view_cache.SETTLED_S)  # queue.db untouched since Sync All: readings are kept
        measure(stash, scene_id, 2, data_dir)  # warm-up: bytecode caches, Stash's plugin cache
        times = measure(stash, scene_id, opts.rounds, data_dir)
        summary = report(times)
        summary["panel_answer"] = {k: panel.get(k) for k in ("state", "item", "last_sync")}
        summary["PYTHONDONTWRITEBYTECODE"] = os.environ.get("PYTHONDONTWRITEBYTECODE")
        summary["python"] = sys.executable
        summary["stash"] = stash.gql("{ version { version } }")["version"]["version"]
        summary["load_average"] = os.getloadavg()
        print(json.dumps(summary, indent=2))
        if opts.json:
            opts.json.write_text(json.dumps({**summary, "raw_s": times}, indent=2))
        return 0


if __name__ == "__main__":
    sys.exit(main())
