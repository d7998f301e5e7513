"""One-command demo: python -m tests.demo

Starts the Stash and Plex emulators on loopback with a small sample library and stores
PlexSync's settings in Stash. First a Sync All makes Plex mirror Stash, so every edit the demo
announces shows in the before/after (the tag it removes is in Plex before). Then it edits two
scenes through Stash's GraphQL API (the hooks run exactly as Stash runs them: manifest, stdin,
separate processes, one after the other), runs the Process Queue task as Stash's task page
would, prints its answer once and the Plex items before and after with whole lists, and
removes its temporary folder.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from sync_queue.lock import LOCK_FILE, drain_lock_held, lock_holder_pid
from worker.cover_watch import WATCH_LOCK
from tests.e2e_fixtures import BULK_UPDATE, SCENE_UPDATE
from tests.emulators.plex_library import PART_I_FILE, PART_II_FILE, RICH_FILE, load_small_library
from tests.emulators.plex_server import PlexEmulator
from tests.emulators.stash_fixtures import load_sample_library, make_png, png_data_url
from tests.emulators.stash_server import StashEmulator
from tests.harness.runner import PluginRunner

ROOT = Path(__file__).resolve().parent.parent
SHOWN = [("Saga Part I", PART_I_FILE), ("Saga Part II", PART_II_FILE), ("Rich Tags", RICH_FILE)]


FIELDS = ("title", "studio", "genres", "actors", "collections", "poster")


def plex_state(plex: PlexEmulator) -> list[dict]:
    """Each shown Plex item's synced fields, lists whole (nothing cut to fit a column)."""
    items = []
    for _, path in SHOWN:
        item = plex.item(plex.find_by_file(path)[0])
        items.append({"title": item["title"], "studio": item.get("studio") or "",
                      "genres": ", ".join(item["genres"]),
                      "actors": ", ".join(a["tag"] for a in item["actors"]),
                      "collections": ", ".join(item.get("collections") or []),
                      "poster": (item.get("posterSha1") or "-")[:8]})
    return items


def print_items(title: str, items: list[dict], before: list[dict] | None = None) -> None:
    """One block per item; with `before`, a changed field is marked '*'."""
    print(f"\n{title}" + (" (* = changed)" if before else ""))
    for n, item in enumerate(items):
        for field in FIELDS:
            changed = before is not None and before[n][field] != item[field]
            mark = "*" if changed else " "
            head = item["title"] if field == "title" else f"  {field}"
            value = "" if field == "title" else item[field] or "(none)"
            print(f" {mark} {head:<14} {value}".rstrip() if field != "title" else f" {mark} {head}")


def run_task(runner: PluginRunner, name: str) -> None:
    """Run a task as Stash's task page does; print the log lines, then its answer once."""
    task = runner.run_task(name, timeout=120)
    answer = (task.output or task.error or "").splitlines()
    logged_answer = {line.strip() for line in answer}
    for level, message in task.logs:
        if message.strip() not in logged_answer:  # the answer is logged too: shown once, below
            print(f"   [{level}] {message}")
    print("   " + "\n   ".join(answer) + f"\n   ({task.wall_s:.2f} s)")


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="plexsync-demo-"))
    try:
        return _demo(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _demo(work: Path) -> int:
    data_dir = work / "plexsync-data"
    with PlexEmulator(token="demo-plex-token") as plex, StashEmulator() as stash:
        load_small_library(plex)
        scenes = load_sample_library(stash).scenes
        stash.set_plugin_settings("PlexSync", {"plex_url": plex.url, "plex_token": plex.token})
        runner = PluginRunner(ROOT, ("0.0.0.0", stash.port), session_cookie=stash.create_session(),
                              env={"PLEXSYNC_DATA_DIR": str(data_dir)},
                              server_dir=str(work / "stash"), cwd=str(work / "cwd"))
        try:
            print(f"Stash emulator {stash.url}   Plex emulator {plex.url}   (temporary data in {work})")
            print("\n0. Task 'Sync All': Plex starts as a mirror of Stash")
            run_task(runner, "Sync All")
            before = plex_state(plex)
            print_items("Plex BEFORE the edits", before)

            stash.hook_sink = runner.hook_sink
            print("\n1. Edit in Stash: retitle 'Saga Part I', remove its tag 'Epic', new cover")
            tags = list(stash.scene(scenes["part1"])["tag_ids"])
            epic = next(t for t in tags if stash.state.tags[t]["name"] == "Epic")
            stash.graphql(SCENE_UPDATE, {"input": {
                "id": str(scenes["part1"]), "title": "Saga Part I: Remastered",
                "tag_ids": [str(t) for t in tags if t != epic],
                "cover_image": png_data_url(make_png("remastered"))}})
            print("2. Bulk edit in Stash: tag 'Saga Part II' and 'Rich Tags' with 'Demo'")
            demo_tag = stash.add_tag("Demo")
            stash.graphql(BULK_UPDATE, {"input": {
                "ids": [str(scenes["part2"]), str(scenes["rich"])],
                "tag_ids": {"ids": [str(demo_tag)], "mode": "ADD"}}})
            for run in (r for r in runner.runs if r.kind == "hook"):
                print(f"   hook {run.wall_s * 1000:6.0f} ms  -> {run.output or run.error}")

            print("3. Task 'Process Queue' (as Stash's task page runs it)")
            run_task(runner, "Process Queue")
            _wait_drainer_exit(data_dir)
            print_items("Plex AFTER the edits", plex_state(plex), before)
            print(f"\nPlex requests: {plex.count()} in all, {plex.count('PUT')} PUT, "
                  f"{plex.count('POST')} POST")
        finally:
            stash.hook_sink = None
            _stop_drainer(data_dir)
    return 0


def _wait_drainer_exit(data_dir: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while drain_lock_held(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)


def _stop_drainer(data_dir: Path) -> None:
    _wait_drainer_exit(data_dir)
    _wait_process_exit(lock_holder_pid(data_dir))  # it still imports plays after the lock
    # The cover watch a drain may leave (scenes synced without a cover) and the drainer.
    for lock in (WATCH_LOCK, LOCK_FILE):
        pid = lock_holder_pid(data_dir, lock) if drain_lock_held(data_dir, lock) else None
        if pid:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5.0  # its files must be closed before the folder goes
            while drain_lock_held(data_dir, lock) and time.monotonic() < deadline:
                time.sleep(0.1)


def _wait_process_exit(pid: int | None, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while pid and pid != os.getpid() and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:  # gone (or never ours)
            return
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
