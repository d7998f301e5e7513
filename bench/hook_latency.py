"""Figure 1: hook latency. A single-scene Scene.Update.Post edit touching `title`, fired by the
Stash emulator's sceneUpdate and run by the Stash-exact runner; wall = spawn -> stdout EOF and
exit, as the runner reports it (what Stash, and the user saving, waits for).

Floor: `python -c "import json, sqlite3, urllib.request"` spawned the same way (same
interpreter, environment, cwd, stdin and pump), ALTERNATING with the hooks (order swapped on
every pair) so load from other processes hits both alike.

Two states, both reported:
- drainer running (the steady state during a burst of edits): the drainer a previous hook
  started is alive and syncs each edit while the next pairs run. Its start-up (imports,
  index) is over before the first counted pair: that one-off cost is the cold case's.
- cold: no drainer; the hook commits, finds the lock free and spawns one. Before each cold
  pair the previous drainer is killed; after it, the new drainer's sync is waited out so it
  does not land on the next pair.
Every edit is checked to have landed in the Plex emulator; leftover drainers are killed.
"""
from __future__ import annotations

from common import Figure, cli, median, ms, p95
from loopback import (System, add_matching_scenes, drainer_alive, lock_holder_pid, plex_files,
                      run_floor, wait_until)

GOAL_MEDIAN_S = 0.150
GOAL_RATIO = 3.0


def _pair(system: System, floor_first: bool, scene_id: int, title: str,
          stdin: bytes) -> tuple[float, float]:
    """(hook wall, floor wall), in the order asked."""
    floor = run_floor(system.runner, stdin) if floor_first else None
    run = system.edit(scene_id, title=title)
    if run.error or "queued" not in str(run.output):
        raise RuntimeError(f"hook did not queue: {run.output!r} {run.error!r} {run.logs!r}")
    if floor is None:
        floor = run_floor(system.runner, stdin)
    return run.wall_s, floor


def _start_drainer(system: System, scene_id: int) -> None:
    """An uncounted edit that starts a drainer; wait until it has synced and idles."""
    system.edit(scene_id, title="warm-up")
    system.wait_drained()
    wait_until(lambda: drainer_alive(system.data_dir), 10, what="the drainer")


def run(quick: bool) -> Figure:
    n_steady, n_cold = (12, 3) if quick else (50, 20)
    fig = Figure("hook latency", quick)
    with System() as system:
        _, ids = add_matching_scenes(system.stash, system.plex, n_steady + n_cold + 2)
        titles = {}
        # Warm-up (uncounted): fills the bytecode cache, builds the index, starts a drainer.
        warm = system.edit(ids[0], title="warm-up")
        stdin = warm.stdin
        system.wait_drained()

        cold = []
        for n in range(n_cold):
            system.kill_drainers()
            killed_pid = lock_holder_pid(system.data_dir)
            scene = ids[1 + n]
            titles[scene] = f"cold edit {n}"
            # floor first: after the hook, the new drainer's start-up would load the floor
            cold.append(_pair(system, True, scene, titles[scene], stdin))
            wait_until(lambda: drainer_alive(system.data_dir)
                       and lock_holder_pid(system.data_dir) != killed_pid, 30,
                       what="the drainer this cold hook started")
            system.wait_drained()

        if not drainer_alive(system.data_dir):
            _start_drainer(system, ids[0])
        steady, respawned = [], 0
        for n in range(n_steady):
            if not drainer_alive(system.data_dir):  # idled out between pairs: not this state
                respawned += 1
                _start_drainer(system, ids[0])
            scene = ids[1 + n_cold + n]
            titles[scene] = f"steady edit {n}"
            steady.append(_pair(system, n % 2 == 0, scene, titles[scene], stdin))

        system.wait_drained()
        files = plex_files(len(ids))
        for scene, title in titles.items():  # every counted edit really reached Plex
            item = system.plex.item(system.plex.find_by_file(files[ids.index(scene)])[0])
            if item["title"] != title:
                raise RuntimeError(f"scene {scene}: Plex has {item['title']!r}, not {title!r}")
        system.kill_drainers()
        killed = list(system.killed)

    states = (("drainer running", "1a", steady), ("cold, spawns drainer", "1b", cold))
    for label, key, samples in states:
        hooks, floors = [h for h, _ in samples], [f for _, f in samples]
        h_med, f_med = median(hooks), median(floors)
        ratio = h_med / f_med
        fig.add(f"{key} hook ({label}): median, n={len(hooks)}", ms(h_med),
                f"<= {GOAL_MEDIAN_S * 1000:.0f} ms", h_med <= GOAL_MEDIAN_S,
                f"floor median {ms(f_med)}")
        fig.add(f"{key} hook ({label}): p95", ms(p95(hooks)), "-", None,
                f"floor p95 {ms(p95(floors))}")
        fig.add(f"{key} hook / floor ({label}): median ratio", f"{ratio:.2f}x",
                f"<= {GOAL_RATIO:g}x", ratio <= GOAL_RATIO, "1.00x = bare interpreter")
        fig.details[key] = {"state": label, "hook_s": hooks, "floor_s": floors}
    fig.details["drainer_respawns_during_steady"] = respawned
    fig.details["drainers_killed"] = killed  # one per cold pair, plus the last one
    return fig


if __name__ == "__main__":
    cli(run)
