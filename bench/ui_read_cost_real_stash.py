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
  overview    runPluginOperation(PlexSync, {mode: ui_overview}): the PlexSync page

and prints medians and the goal ratio scene / empty (also (x - graphql) / (empty - graphql),
the process part alone). Both plugins run the same interpreter (Stash's Python path is set to
this one); PlexSync as PlexSync.yml makes Stash run it (python3 -S).

    .venv/bin/python bench/ui_read_cost_real_stash.py [--rounds 31] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hook_cost_real_stash import STASH_DIR, Stash, free_port, install, make_clips  # noqa: E402
from tests.emulators.plex_library import MOVIES_LOCATION, load_small_library  # noqa: E402
from tests.emulators.plex_server import PlexEmulator  # noqa: E402

SCENES = 20
KINDS = ("graphql", "empty", "scene", "overview")
OPERATION = "mutation($p: ID!, $a: Map) { runPluginOperation(plugin_id: $p, args: $a) }"


def requests_for(scene_id: str) -> dict:
    return {
        "graphql": ("{ version { version } }", {}),
        "empty": (OPERATION, {"p": "EmptyHook", "a": {}}),
        "scene": (OPERATION, {"p": "PlexSync", "a": {"mode": "ui_scene", "scene_id": scene_id}}),
        "overview": (OPERATION, {"p": "PlexSync", "a": {"mode": "ui_overview"}}),
    }


def measure(stash: Stash, scene_id: str, rounds: int) -> dict:
    calls = requests_for(scene_id)
    times: dict = {kind: [] for kind in KINDS}
    for r in range(rounds):
        for kind in KINDS[r % len(KINDS):] + KINDS[:r % len(KINDS)]:
            query, variables = calls[kind]
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
    if not (STASH_DIR / "start-stash").is_file():
        print(f"no real Stash at {STASH_DIR} (../shared/stash-server beside the project)")
        return 2
    work = Path(tempfile.mkdtemp(prefix="plexsync-uicost-"))
    home, media = work / "home", work / "media"
    media.mkdir(parents=True)
    make_clips(media, SCENES)
    started = subprocess.run([str(STASH_DIR / "start-stash"), str(home), str(media),
                              str(free_port())], capture_output=True, text=True, check=True).stdout.split()
    stash_pid, stash = int(started[0]), Stash(started[1])
    plex = PlexEmulator(token="bench-plex-token").start()
    try:
        stash.gql("mutation($p: String) { configureGeneral(input: {pythonPath: $p}) { pythonPath } }",
                  {"p": sys.executable})
        stash.wait_job(stash.gql(f'mutation {{ metadataScan(input: {{paths: ["{media}"]}}) }}')
                       ["metadataScan"])
        scenes = stash.gql("{ findScenes(filter: {per_page: -1, sort: \"path\"}) "
                           "{ scenes { id files { path } } } }")["findScenes"]["scenes"]
        movies = load_small_library(plex).sections["movies"]
        for s in scenes:
            plex.add_item(movies, f"plex {s['id']}",
                          files=[f"{MOVIES_LOCATION}/bench/{Path(s['files'][0]['path']).name}"])
        install(home)  # PlexSync and the empty Python plugin (which answers operations too)
        stash.gql("mutation { reloadPlugins }")
        stash.gql("mutation($i: Map!) { configurePlugin(plugin_id: \"PlexSync\", input: $i) }",
                  {"i": {"plex_url": plex.url, "plex_token": plex.token,
                         "path_map": f"{media} => {MOVIES_LOCATION}/bench",
                         "trigger_plex_scan": False}})
        stash.wait_job(stash.gql('mutation { runPluginTask(plugin_id: "PlexSync", '
                                 'task_name: "Sync All") }')["runPluginTask"])
        scene_id = scenes[0]["id"]
        panel = wait_synced(stash, scene_id)
        if panel.get("state") != "synced":
            print(f"the scene never became synced: {panel}")
            return 1
        measure(stash, scene_id, 2)  # warm-up: bytecode caches, Stash's plugin cache
        times = measure(stash, scene_id, opts.rounds)
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
    finally:
        plex.stop()
        subprocess.run([str(STASH_DIR / "stop-stash"), str(home)], capture_output=True)
        try:
            os.waitpid(stash_pid, os.WNOHANG)
        except ChildProcessError:
            pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
