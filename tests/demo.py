"""One-command demo: python -m tests.demo

Starts the Stash and Plex emulators on loopback with a small sample library, stores PlexSync's
settings in Stash, edits two scenes through Stash's GraphQL API (the hooks run exactly as Stash
runs them: manifest, stdin, separate processes, one after the other), runs the Process Queue
task as Stash's task page would, and prints the Plex items before and after.
"""
from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from sync_queue.lock import drain_lock_held, lock_holder_pid
from tests.e2e_fixtures import BULK_UPDATE, SCENE_UPDATE
from tests.emulators.plex_library import PART_I_FILE, PART_II_FILE, RICH_FILE, load_small_library
from tests.emulators.plex_server import PlexEmulator
from tests.emulators.stash_fixtures import load_sample_library, make_png, png_data_url
from tests.emulators.stash_server import StashEmulator
from tests.harness.runner import PluginRunner

ROOT = Path(__file__).resolve().parent.parent
SHOWN = [("Saga Part I", PART_I_FILE), ("Saga Part II", PART_II_FILE), ("Rich Tags", RICH_FILE)]


def plex_rows(plex: PlexEmulator) -> list[tuple[str, ...]]:
    rows = []
    for _, path in SHOWN:
        item = plex.item(plex.find_by_file(path)[0])
        rows.append((item["title"], item.get("studio") or "", ", ".join(item["genres"]),
                     ", ".join(a["tag"] for a in item["actors"]),
                     ", ".join(item.get("collections") or []),
                     (item.get("posterSha1") or "-")[:8]))
    return rows


def print_table(title: str, rows: list[tuple[str, ...]]) -> None:
    header = ("title", "studio", "genres", "actors", "collections", "poster")
    widths = [min(34, max(len(str(r[i])) for r in rows + [header])) for i in range(len(header))]
    print(f"\n{title}")
    for row in [header, tuple("-" * w for w in widths)] + rows:
        print("  ".join(str(cell)[:w].ljust(w) for cell, w in zip(row, widths)))


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="plexsync-demo-"))
    data_dir = work / "plexsync-data"
    with PlexEmulator(token="demo-plex-token") as plex, StashEmulator() as stash:
        load_small_library(plex)
        scenes = load_sample_library(stash).scenes
        stash.set_plugin_settings("PlexSync", {"plex_url": plex.url, "plex_token": plex.token})
        runner = PluginRunner(ROOT, ("0.0.0.0", stash.port), session_cookie=stash.create_session(),
                              env={"PLEXSYNC_DATA_DIR": str(data_dir)},
                              server_dir=str(work / "stash"), cwd=str(work / "cwd"))
        stash.hook_sink = runner.hook_sink
        print(f"Stash emulator {stash.url}   Plex emulator {plex.url}   data {data_dir}")
        print_table("Plex BEFORE", plex_rows(plex))

        print("\n1. Edit in Stash: retitle 'Saga Part I', remove tag 'Epic', new cover")
        tags = [t for t in stash.scene(scenes["part1"])["tag_ids"]]
        epic = next(t for t in tags if stash.state.tags[t]["name"] == "Epic")
        stash.graphql(SCENE_UPDATE, {"input": {
            "id": str(scenes["part1"]), "title": "Saga Part I: Remastered",
            "tag_ids": [str(t) for t in tags if t != epic],
            "cover_image": png_data_url(make_png("remastered"))}})
        print("2. Bulk edit in Stash: tag 'Saga Part II' and 'Rich Tags' with 'Demo'")
        demo_tag = stash.add_tag("Demo")
        stash.graphql(BULK_UPDATE, {"input": {"ids": [str(scenes["part2"]), str(scenes["rich"])],
                                              "tag_ids": {"ids": [str(demo_tag)], "mode": "ADD"}}})
        for run in runner.runs:
            print(f"   hook {run.wall_s * 1000:6.0f} ms  -> {run.output or run.error}")

        print("3. Task 'Process Queue' (as Stash's task page runs it)")
        task = runner.run_task("Process Queue", timeout=120)
        for level, message in task.logs:
            print(f"   [{level}] {message}")
        print(f"   -> {task.output or task.error}  ({task.wall_s:.2f} s)")
        print_table("Plex AFTER", plex_rows(plex))
        print(f"\nPlex requests: {plex.count()} in all, {plex.count('PUT')} PUT, "
              f"{plex.count('POST')} POST")
        _stop_drainer(data_dir)
    return 0


def _stop_drainer(data_dir: Path) -> None:
    deadline = time.monotonic() + 10
    while drain_lock_held(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    pid = lock_holder_pid(data_dir) if drain_lock_held(data_dir) else None
    if pid:
        os.kill(pid, signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
