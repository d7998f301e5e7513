"""Figure 9 (issue 13 item 2): a scene created by Stash's scan reaches Plex, with no task run.

The Stash emulator's scan creates a scene and fires Scene.Create.Post through the Stash-exact
runner (PlexSync.py as shipped: no PLEXSYNC_NEW_SCENE_DELAY). The Plex emulator has the file
pending: Plex imports it IMPORT_S seconds after a scan of its folder, as a real PMS needs a
moment to import (without a scan it never appears). Measured: from the moment the scan's hook
starts to the moment the Plex item carries the scene's title and summary. Each sample uses a
new folder; the drainer is killed between samples so each one starts cold (drainer start-up,
index check, scan request, short-schedule polls). The floor is the emulated import time.
"""
from __future__ import annotations

import time

from common import Figure, cli, median, secs
from loopback import System, add_matching_scenes, wait_until

GOAL_S = 15.0
IMPORT_S = 3.0


def _arrived(plex, path: str, title: str) -> bool:
    keys = plex.find_by_file(path)
    return len(keys) == 1 and plex.item(keys[0])["title"] == title


def run(quick: bool) -> Figure:
    samples = 2 if quick else 6
    fig = Figure("new scene", quick)
    waits, scans = [], []
    with System() as system:
        section, ids = add_matching_scenes(system.stash, system.plex, 5)
        system.edit(ids[0], title="warm-up")  # uncounted: bytecode cache, index built
        system.wait_drained()
        for n in range(samples):
            system.kill_drainers()
            path = f"/data/big/new-{n}/fresh clip {n}.mp4"
            title = f"Fresh scene {n}"
            system.plex.add_pending_file(section, path, f"fresh clip {n}", scan_delay=IMPORT_S)
            started = time.monotonic()
            scene = system.stash.scan_new_scene(title=title, files=[path],
                                                details=f"Scanned sample {n}.")
            wait_until(lambda: _arrived(system.plex, path, title), 120,
                       what=f"new scene {scene} in Plex")
            waits.append(time.monotonic() - started)
            scans.append(len([s for s in system.plex.scans if s["path"] == path.rsplit("/", 1)[0]]))
            system.wait_drained()
        system.kill_drainers()
    worst = max(waits)
    fig.add(f"9 new scene from Stash's scan -> metadata in Plex: median, n={samples}",
            secs(median(waits)), f"<= {GOAL_S:g} s", median(waits) <= GOAL_S,
            f"Plex import after the scan {secs(IMPORT_S)}; folder scans per scene {max(scans)}")
    fig.add("9 new scene: worst sample", secs(worst), f"<= {GOAL_S:g} s", worst <= GOAL_S,
            "cold drainer each time")
    fig.details = {"waits_s": waits, "scans_per_scene": scans}
    return fig


if __name__ == "__main__":
    cli(run)
