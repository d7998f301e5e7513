"""Issue 13 goal 1 and issue 19 item 1: what a PlexSync hook costs inside the REAL Stash server.

Starts ../shared/stash-server (temporary HOME and MEDIA, a free loopback port), scans 50 clips
made with ffmpeg, installs two plugins the way users do (files in plugins/, reloadPlugins):
an empty Python hook (reads stdin, prints {"output":"ok"}) and PlexSync (settings set with
configurePlugin, syncing into the Plex emulator). Then it times Stash's own GraphQL mutations,
wall clock from request to answer, in ALTERNATING rounds (the order rotates every round) with
setPluginsEnabled choosing what is on:

  none        no plugin enabled
  empty       the empty Python hook
  plexsync    PlexSync, its drainer running and idle (this bench holds the drain lock, as a
              running drainer does): the steady state of a burst of edits
  plexsync_cold  PlexSync with no drainer and no drain summary waiting: the hook spawns a
              drainer. The bench then waits for that drainer to sync and exit before the next
              sample, so its work never lands on a sample of another kind.
  plexsync_cadence  saves seconds apart (issue 19): the previous PlexSync save's drainer has
              exited and its summary waits, so the hook relays it into Stash's log AND spawns
              a drainer. If no summary waits (another sample took it), one untimed PlexSync
              save and its drain come first. Stash's log must show each relayed line once.

Every timed save of every kind starts --settle seconds (default 1) after the previous sample
ended (for PlexSync: its drainer exited): saves seconds apart. A drainer idles 2 s before it
exits, so a person's next save lands at a random moment after that, rarely in its first instant.

For a single sceneUpdate (title) and a bulkSceneUpdate of all 50 scenes (details), it prints
medians and the ratios (plexsync - none) / (empty - none); goals: <= 2 (issue 13), <= 1.3 for
the cadence case (issue 19). All three run the same interpreter (Stash's Python path is set to
this one). At the end every edit must be in Plex: the last single-edit title and the last bulk
details on every item (newest wins, nothing lost).

    .venv/bin/python bench/hook_cost_real_stash.py [--rounds 15] [--bulk-rounds 5] [--json out]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sync_queue.lock import DrainLock, drain_lock_held, lock_holder_pid  # noqa: E402
from sync_queue.notes import SUMMARY_FILE, take_summary  # noqa: E402
from tests.emulators.plex_library import MOVIES_LOCATION, load_small_library  # noqa: E402
from tests.emulators.plex_server import PlexEmulator  # noqa: E402
from tests.real_stash.server import copy_plugin, process_alive  # noqa: E402

STASH_DIR = ROOT.parent / "shared" / "stash-server"
EMPTY_YML = """name: EmptyHook
description: reads stdin, answers ok
version: 0.0.1
exec:
  - python3
  - "{pluginDir}/empty.py"
interface: raw
hooks:
  - name: empty
    triggeredBy:
      - Scene.Update.Post
      - Scene.Create.Post
"""
EMPTY_PY = 'import sys\nsys.stdin.read()\nprint(\'{"output":"ok"}\')\n'
SCENES = 50
KINDS = ("none", "empty", "plexsync", "plexsync_cold", "plexsync_cadence")
PLEXSYNC_KINDS = ("plexsync", "plexsync_cold", "plexsync_cadence")
RELAYED = "background sync: "  # how the hook's relay of a drain summary reads in Stash's log


class Stash:
    def __init__(self, url: str):
        self.url = url

    def gql(self, query: str, variables: dict | None = None, timeout: float = 600) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise RuntimeError(payload["errors"])
        return payload["data"]

    def timed(self, query: str, variables: dict) -> float:
        """Request to answer. The Plex emulator serves the drainers from THIS process: its
        garbage is collected before the clock starts, never while it runs."""
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            self.gql(query, variables)
            return time.perf_counter() - started
        finally:
            gc.enable()

    def wait_job(self, job_id: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.gql("query($id: ID!) { findJob(input: {id: $id}) { status error } }",
                           {"id": job_id})["findJob"]
            if job and job["status"] in ("FINISHED", "FAILED", "CANCELLED"):
                if job["status"] != "FINISHED":
                    raise RuntimeError(f"job {job_id}: {job}")
                return
            time.sleep(0.2)
        raise TimeoutError(f"job {job_id}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_clips(media: Path, count: int) -> None:
    for n in range(count):  # a distinct colour each: Stash merges files with equal fingerprints
        colour = f"0x{(n * 2654435761) & 0xFFFFFF:06x}"
        subprocess.run(["nice", "-n", "5", "ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
                        f"color=c={colour}:s=32x32:r=5:d=1", "-c:v", "libx264", "-pix_fmt",
                        "yuv420p", str(media / f"clip{n:03d}.mp4")], check=True)


def install(home: Path) -> None:
    copy_plugin(home / "plugins" / "PlexSync")
    empty = home / "plugins" / "EmptyHook"
    empty.mkdir(parents=True)
    (empty / "EmptyHook.yml").write_text(EMPTY_YML)
    (empty / "empty.py").write_text(EMPTY_PY)


def enable(stash: Stash, kind: str) -> None:
    stash.gql("mutation($m: BoolMap!) { setPluginsEnabled(enabledMap: $m) }",
              {"m": {"PlexSync": kind.startswith("plexsync"), "EmptyHook": kind == "empty"}})


SCENE_UPDATE = "mutation($i: SceneUpdateInput!) { sceneUpdate(input: $i) { id } }"
BULK_UPDATE = "mutation($i: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $i) { id } }"


def wait_drainer_gone(data_dir: Path, timeout: float = 120, inbox_too: bool = False) -> None:
    """Until no drainer holds the lock and the last holder's process has exited."""
    deadline = time.monotonic() + timeout
    while drain_lock_held(data_dir) or (inbox_too and any((data_dir / "inbox").glob("*.json"))):
        if time.monotonic() > deadline:
            raise TimeoutError("the drainer did not finish")
        time.sleep(0.05)
    pid = lock_holder_pid(data_dir)
    while pid and pid != os.getpid() and process_alive(pid):
        if time.monotonic() > deadline:
            raise TimeoutError(f"drainer {pid} did not exit")
        time.sleep(0.05)


def wait_summary(data_dir: Path, timeout: float = 60) -> None:
    """A drain that synced something leaves its summary after letting go of the lock."""
    deadline = time.monotonic() + timeout
    while not (data_dir / SUMMARY_FILE).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the drain left no summary")
        time.sleep(0.05)


def relayed_lines(home: Path, since: int) -> int:
    with open(home / "stash.log", "rb") as log:
        log.seek(since)
        return log.read().decode("utf-8", "replace").count(RELAYED)


def log_size(home: Path) -> int:
    path = home / "stash.log"
    return path.stat().st_size if path.exists() else 0


class Sampler:
    """One timed mutation of a kind, with PlexSync's state set up for that kind first."""

    def __init__(self, stash: Stash, home: Path, data_dir: Path, settle_s: float):
        self.stash, self.home, self.data_dir = stash, home, data_dir
        self.settle_s = settle_s  # pause before every timed save, whatever its kind
        self.relays: list[int] = []  # summary lines in Stash's log per cadence sample
        self.warmups = 0             # untimed saves made so that a summary waits

    def sample(self, kind: str, query: str, variables: dict, warmup: dict) -> float:
        enable(self.stash, kind)
        if kind == "plexsync":
            lock = DrainLock(self.data_dir)
            while not lock.try_acquire(wait=1.0):  # a drainer from earlier still finishing
                time.sleep(0.1)
            try:
                take_summary(self.data_dir)  # a running drainer: its start relayed the last one
                time.sleep(self.settle_s)
                return self.stash.timed(query, variables)
            finally:
                lock.release()
        wait_drainer_gone(self.data_dir)
        if kind == "plexsync_cold":
            take_summary(self.data_dir)
        elif kind == "plexsync_cadence" and not (self.data_dir / SUMMARY_FILE).exists():
            self.warmups += 1  # the last save's drain left no summary here: make one
            self.stash.gql(SCENE_UPDATE, warmup)
            wait_drainer_gone(self.data_dir)
            wait_summary(self.data_dir)
        mark = log_size(self.home)
        time.sleep(self.settle_s)
        took = self.stash.timed(query, variables)
        if kind in PLEXSYNC_KINDS:
            time.sleep(0.2)  # let the spawned drainer take its lock
            wait_drainer_gone(self.data_dir)
        if kind == "plexsync_cadence":
            self.relays.append(relayed_lines(self.home, mark))
        return took


def measure(sampler: Sampler, ids: list, rounds: int, bulk_rounds: int) -> dict:
    times: dict = {f"{what}/{kind}": [] for what in ("single", "bulk") for kind in KINDS}
    counter = 0
    for what, count in (("single", rounds), ("bulk", bulk_rounds)):
        for r in range(count):
            order = KINDS[r % len(KINDS):] + KINDS[:r % len(KINDS)]
            for kind in order:
                counter += 1
                if what == "single":
                    variables = {"i": {"id": ids[0], "title": f"single edit {counter}"}}
                    query = SCENE_UPDATE
                else:
                    variables = {"i": {"ids": ids, "details": f"bulk edit {counter}"}}
                    query = BULK_UPDATE
                warmup = {"i": {"id": ids[1], "title": f"warm-up save {counter}"}}
                times[f"{what}/{kind}"].append(sampler.sample(kind, query, variables, warmup))
    return {"times": times}


def report(times: dict) -> dict:
    med = {key: median(values) for key, values in times.items()}
    out = {"median_ms": {k: round(v * 1000, 2) for k, v in med.items()},
           "samples": {k: len(v) for k, v in times.items()}}
    for what in ("single", "bulk"):
        none, empty = med[f"{what}/none"], med[f"{what}/empty"]
        for kind in PLEXSYNC_KINDS:
            ratio = (med[f"{what}/{kind}"] - none) / max(empty - none, 1e-9)
            out[f"ratio {what}/{kind}"] = round(ratio, 2)
    return out


def breakdown(home: Path, data_dir: Path, rounds: int) -> dict:
    """Where a hook's time goes, outside Stash: the same processes spawned directly with the
    same stdin shape, alternating, while this bench holds the drain lock (drainer running)."""
    plugin = home / "plugins" / "PlexSync"
    conn = {"Scheme": "http", "Host": "127.0.0.1", "Port": 9, "PluginDir": str(plugin),
            "SessionCookie": {"Name": "session", "Value": "c"}}

    def hook(fields: list) -> bytes:
        return json.dumps({"server_connection": conn, "args": {"hookContext": {
            "id": 1, "type": "Scene.Update.Post", "input": {"id": "1", "title": "t"},
            "inputFields": fields}}}).encode()

    runs = {
        "python -S -c pass": ([sys.executable, "-S", "-c", "pass"], b""),
        "python -c pass": ([sys.executable, "-c", "pass"], b""),
        "empty hook": ([sys.executable, str(home / "plugins" / "EmptyHook" / "empty.py")], hook(["title"])),
        "PlexSync, edit skipped (rating100)": ([sys.executable, "-S", str(plugin / "PlexSync.py")],
                                               hook(["id", "rating100"])),
        "PlexSync, edit noted": ([sys.executable, "-S", str(plugin / "PlexSync.py")],
                                 hook(["id", "title"])),
    }
    times: dict = {name: [] for name in runs}
    lock = DrainLock(data_dir)
    while not lock.try_acquire(wait=1.0):
        time.sleep(0.1)
    try:
        for _ in range(rounds):
            for name, (argv, stdin) in runs.items():
                started = time.perf_counter()
                subprocess.run(argv, input=stdin, capture_output=True, check=True, cwd=plugin)
                times[name].append(time.perf_counter() - started)
    finally:
        lock.release()
    return {name: round(median(values) * 1000, 2) for name, values in times.items()}


def no_real_stash() -> bool:
    """True (and says where it was looked for) when ../shared/stash-server is absent."""
    if (STASH_DIR / "start-stash").is_file():
        return False
    print(f"no real Stash at {STASH_DIR} (../shared/stash-server beside the project)")
    return True


@contextmanager
def stash_with_clips(prefix: str, count: int):
    """The real Stash (Python path: this interpreter) on a free loopback port with `count`
    clips scanned from a temporary MEDIA, the Plex emulator holding one item per clip, and
    PlexSync plus the empty Python plugin installed (plugins/ + reloadPlugins) and set up;
    everything stopped afterwards. Yields (home, stash, plex, scenes sorted by path,
    {scene id: ratingKey})."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    home, media = work / "home", work / "media"
    media.mkdir(parents=True)
    make_clips(media, count)
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
        assert len(scenes) == count, f"{len(scenes)} scenes scanned, not {count}"
        movies = load_small_library(plex).sections["movies"]
        keys = {s["id"]: plex.add_item(movies, f"plex {s['id']}", files=[
            f"{MOVIES_LOCATION}/bench/{Path(s['files'][0]['path']).name}"]) for s in scenes}
        install(home)
        stash.gql("mutation { reloadPlugins }")
        stash.gql("mutation($i: Map!) { configurePlugin(plugin_id: \"PlexSync\", input: $i) }",
                  {"i": {"plex_url": plex.url, "plex_token": plex.token,
                         "path_map": f"{media} => {MOVIES_LOCATION}/bench",
                         "trigger_plex_scan": False}})
        yield home, stash, plex, scenes, keys
    finally:
        plex.stop()
        subprocess.run([str(STASH_DIR / "stop-stash"), str(home)], capture_output=True)
        try:
            os.waitpid(stash_pid, os.WNOHANG)
        except ChildProcessError:
            pass
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="single-edit rounds (>= 15)")
    parser.add_argument("--bulk-rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds between the previous sample's end (its drainer exited) and "
                             "the next save, for every kind (saves seconds apart; default 1)")
    opts = parser.parse_args()
    if no_real_stash():
        return 2
    with stash_with_clips("plexsync-hookcost-", SCENES) as (home, stash, plex, scenes, keys):
        data_dir = home / "plexsync"  # <Stash config folder>/plexsync, where PlexSync keeps it
        ids = [s["id"] for s in scenes]
        sampler = Sampler(stash, home, data_dir, opts.settle)
        load_before = os.getloadavg()
        result = measure(sampler, ids, opts.rounds, opts.bulk_rounds)
        # Edits made while PlexSync was off are rightly not PlexSync's; the last two edits
        # with it on must win over every edit before them, queued or not.
        enable(stash, "plexsync_cold")
        result["last_title"], result["last_details"] = "final single edit", "final bulk edit"
        stash.gql(BULK_UPDATE, {"i": {"ids": ids, "details": result["last_details"]}})
        stash.gql(SCENE_UPDATE, {"i": {"id": ids[0], "title": result["last_title"]}})
        time.sleep(0.3)
        wait_drainer_gone(data_dir, inbox_too=True)
        summary = report(result["times"])
        summary["breakdown_median_ms (outside Stash, 30 rounds)"] = breakdown(home, data_dir, 30)
        summary["PYTHONDONTWRITEBYTECODE"] = os.environ.get("PYTHONDONTWRITEBYTECODE")
        summary["python"] = sys.executable
        summary["stash"] = stash.gql("{ version { version } }")["version"]["version"]
        summary["load_average"] = {"before": load_before, "after": os.getloadavg()}
        summary["settle_s"] = opts.settle
        summary["cadence: summary lines relayed per sample"] = sampler.relays
        summary["cadence: summary relayed exactly once every time"] = set(sampler.relays) == {1}
        summary["cadence: untimed saves made so that a summary waited"] = sampler.warmups
        summary["all_edits_in_plex"] = _check_plex(plex, keys, ids, result)
        print(json.dumps(summary, indent=2))
        if opts.json:
            opts.json.write_text(json.dumps({**summary, "raw_s": result["times"]}, indent=2))
        return 0


def _check_plex(plex, keys: dict, ids: list, result: dict) -> bool:
    """The last single-edit title and the last bulk details reached every item concerned."""
    from plexapi.server import PlexServer
    server = PlexServer(plex.url, plex.token)
    first = server.fetchItem(keys[ids[0]])
    if first.title != result["last_title"]:
        print(f"NOT IN PLEX: scene {ids[0]} title {first.title!r} != {result['last_title']!r}")
        return False
    wrong = [sid for sid in ids if server.fetchItem(keys[sid]).summary != result["last_details"]]
    if wrong:
        print(f"NOT IN PLEX: {len(wrong)} scenes lack the last bulk details")
    return not wrong


if __name__ == "__main__":
    sys.exit(main())
