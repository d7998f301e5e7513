"""The late-cover scenario of issue 19 (item 5) on the REAL Stash, shared by
tests/real_stash/test_late_covers.py (does the cover arrive, with nothing else written) and
bench/late_cover_real_stash.py (how long after Stash's generate job: the 15 s goal).

One round: a new clip is scanned with cover generation off (Stash fires Scene.Create.Post,
PlexSync syncs the scene without a poster: Stash only has its placeholder), then Stash's
Generate > Covers job runs; the round measures from that job's end (Stash's own endTime) to
the moment the Plex emulator shows the generated cover as the item's poster.
"""
from __future__ import annotations

import hashlib
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sync_queue.awaited_covers import AwaitedCovers
from sync_queue.lock import drain_lock_held
from sync_queue.records import SyncRecords
from tests.emulators.plex_server import PlexEmulator
from tests.plays.real_stash_support import RealStash, make_clip
from tests.real_stash.server import kill_plexsync_processes
from worker.cover_watch import WATCH_LOCK

JOB = "query($id: ID!) { findJob(input: {id: $id}) { status endTime } }"
SCENES = "{ findScenes(filter: {per_page: -1}) { scenes { id files { path } paths { screenshot } } } }"


@dataclass
class World:
    stash: RealStash
    plex: PlexEmulator
    section: int
    data_dir: Path
    rounds: int = 0


def wait_for(predicate, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def start_world(root: Path) -> World:
    """Stash (new scenes synced 0.3 s after their hook) with PlexSync syncing into the Plex
    emulator; the cover watch keeps its shipped pace."""
    stash = RealStash(root, env={"PLEXSYNC_NEW_SCENE_DELAY": "0.3"})
    plex = PlexEmulator(token="plex-token").start()
    stash.media.mkdir(parents=True, exist_ok=True)
    section = plex.add_section("Movies", location=str(stash.media))
    stash.start()
    try:
        stash.install_plugin({"plex_url": plex.url, "plex_token": plex.token})
    except BaseException:
        stop_world(World(stash, plex, section, stash.home / "plexsync"))
        raise
    return World(stash, plex, section, stash.home / "plexsync")


def stop_world(world: World) -> None:
    world.stash.stop()
    kill_plexsync_processes(world.data_dir)
    world.plex.stop()


def late_cover_round(world: World, timeout: float = 60.0) -> dict:
    """One round; returns {"seconds": job end -> poster in Plex, "puts": PUTs meanwhile, ...}."""
    stash, plex = world.stash, world.plex
    world.rounds += 1
    clip = stash.media / f"clip-{world.rounds:02d}.mp4"
    make_clip(clip, 400 + 37 * world.rounds)
    rk = plex.add_item(world.section, clip.stem, files=[str(clip)], duration=10_000)
    job = stash.gql("mutation($p: [String!]) { metadataScan(input: {paths: $p, "
                    "scanGenerateCovers: false}) }", {"p": [str(stash.media)]})["metadataScan"]
    assert stash.wait_job(job)["status"] == "FINISHED"
    scene = next(s for s in stash.gql(SCENES)["findScenes"]["scenes"]
                 if s["files"][0]["path"] == str(clip))
    wait_for(lambda: (SyncRecords(world.data_dir).get(scene["id"]) or {}).get("rating_key")
             == str(rk), timeout, "PlexSync to sync the new scene", step=0.3)
    before = plex.item(rk)
    with AwaitedCovers(world.data_dir) as awaited:
        is_awaited = scene["id"] in awaited.to_check(2, 100)
    wait_for(lambda: drain_lock_held(world.data_dir, WATCH_LOCK), 20, "the cover watch")
    puts = plex.count("PUT")

    job = stash.gql("mutation { metadataGenerate(input: {covers: true}) }")["metadataGenerate"]
    finished = wait_for(lambda: (j := stash.gql(JOB, {"id": job})["findJob"])["status"] in (
        "FINISHED", "FAILED", "CANCELLED") and j, 120, "Stash's generate job", step=0.05)
    assert finished["status"] == "FINISHED", finished
    ended = _epoch(finished["endTime"])
    with urllib.request.urlopen(scene["paths"]["screenshot"]) as response:
        content_type = response.headers["Content-Type"]
        cover_sha1 = hashlib.sha1(response.read()).hexdigest()
    wait_for(lambda: plex.item(rk)["posterSha1"] == cover_sha1, timeout,
             "the generated cover in Plex", step=0.05)
    seconds = time.time() - ended
    wait_for(lambda: plex.item(rk)["artSha1"] == cover_sha1, timeout, "the background too")
    return {"seconds": seconds, "puts": plex.count("PUT") - puts, "rating_key": rk,
            "scene": scene["id"], "poster_before": before["posterSha1"],
            "awaited": is_awaited, "content_type": content_type}


def _epoch(stamp: str) -> float:
    """Stash's endTime ('2026-12-05T13:18:57.900046574Z': nanoseconds) as epoch seconds."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "+00:00").timestamp() + float(f"0.{fraction or 0}")
