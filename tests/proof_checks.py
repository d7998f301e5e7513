"""What the proofs (issue 5) measure, shared by tests/proofs/test_proof_*.py.

Every check reads what a real process left behind -- the runner's captured output, drainer.log,
queue.db, the Plex emulator's request log and library -- never PlexSync's own opinion of itself.
"""
from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

from sync_queue.dlq import DeadLetters
from sync_queue.store import QueueStore

# drainer.log: "%(asctime)s %(process)d %(levelname)s %(message)s"
_JOB_LINE = re.compile(r"^\S+ \S+ (\d+) INFO scene (\d+) → Plex (\d+): ", re.M)


# -- library set-up -------------------------------------------------------------------------

def twin_scenes(env, count: int, folder: str, **stash_fields) -> dict[int, str]:
    """`count` scenes in Stash and, under the same path, in Plex: {scene id: file path}.
    Plex starts with other metadata than Stash, so a synced scene is visibly different."""
    section = env.plex_library.sections["movies"]
    paths = [f"/data/movies/{folder}/{n:04d}.mp4" for n in range(count)]
    env.plex.add_items(section, [{"title": f"plex {folder} {n}", "files": [p],
                                  "summary": "as Plex found it"} for n, p in enumerate(paths)])
    scenes = {}
    for n, path in enumerate(paths):
        fields = {k: (v(n) if callable(v) else v) for k, v in stash_fields.items()}
        fields.setdefault("title", f"{folder} {n}")
        scenes[env.stash.add_scene(files=[path], **fields)] = path
    return scenes


def fire_hooks_at_once(env, titles: dict[int, str]) -> list:
    """Edit each scene's title in Stash, then run every scene's Scene.Update.Post hook in
    its own thread, all released at the same instant: N plugin processes at once."""
    for scene_id, title in titles.items():
        env.stash.edit_scene(scene_id, title=title)
    barrier = threading.Barrier(len(titles))
    results, errors = [], []

    def hook(scene_id, title):
        try:
            barrier.wait(30)
            results.extend(env.runner.run_hook("Scene.Update.Post", scene_id,
                                               {"id": str(scene_id), "title": title},
                                               ["id", "title"]))
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(repr(exc))

    threads = [threading.Thread(target=hook, args=item) for item in titles.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return results


# -- what Plex holds ------------------------------------------------------------------------

def stash_as_plex(env, scene_id: int) -> dict:
    """The Plex fields PlexSync must produce from the Stash scene as it is now."""
    s = env.stash.scene(scene_id)
    collections = {c for c in (s["studio"], s["parent_studio"]) if c}
    collections |= {name for name, _ in s["group_names"]}
    return {"title": s["title"], "summary": s["details"], "studio": s["studio"],
            "originallyAvailableAt": s["date"], "genres": sorted(s["tags"]),
            "actors": s["performers"], "collections": sorted(collections)}


def plex_view(item: dict) -> dict:
    return {"title": item["title"], "summary": item["summary"], "studio": item.get("studio"),
            "originallyAvailableAt": item.get("originallyAvailableAt"),
            "genres": sorted(item["genres"]), "actors": [a["tag"] for a in item["actors"]],
            "collections": sorted(item["collections"])}


def mismatches(env, scenes: dict[int, str]) -> dict:
    """{scene id: (Stash's view, Plex's view)} for every scene where Plex differs."""
    out = {}
    for scene_id, path in scenes.items():
        want, got = stash_as_plex(env, scene_id), plex_view(env.plex_item(path))
        if want != got:
            out[scene_id] = (want, got)
    return out


# -- how often each job ran -------------------------------------------------------------------

def item_reloads(plex) -> list:
    """The full reloads jobs start with (alone, or batched GET /library/metadata/k1,k2,...).
    Not the Plex -> Stash import's viewing-state reads at the end of a drain: those ask for
    the same items without their tags (excludeElements) and are no part of a sync."""
    return [r for r in plex.records("GET", "/library/metadata/")
            if "/" not in r.path[len("/library/metadata/"):] and "excludeElements" not in r.query]


def item_requests(plex, rating_key) -> dict:
    """Requests about one item: the full reload each job starts with (alone, or as one key of
    a batched GET /library/metadata/k1,k2,...), and the edit PUTs."""
    gets = [r for r in item_reloads(plex)
            if str(rating_key) in r.path[len("/library/metadata/"):].split(",")]
    puts = [r for r in plex.records("PUT", "/library/sections/")
            if str(r.query.get("id")) == str(rating_key)]
    return {"get": len(gets), "put": len(puts)}


# -- one drainer at a time --------------------------------------------------------------------

def job_lines(log_text: str) -> list[tuple[int, int]]:
    """(drainer pid, scene id) of every synced-job line in drainer.log, in file order."""
    return [(int(pid), int(scene)) for pid, scene, _ in _JOB_LINE.findall(log_text)]


def interleaved_drainers(log_text: str) -> list[int]:
    """Pids whose job lines are split by another pid's: two drainers ran at the same time.
    One drainer after another gives one unbroken block per pid."""
    blocks: list[int] = []
    for pid, _ in job_lines(log_text):
        if not blocks or blocks[-1] != pid:
            blocks.append(pid)
    return sorted({pid for pid in blocks if blocks.count(pid) > 1})


def most_in_flight(plex, latency: float) -> int:
    """The most Plex requests in flight at the same time (spans as in overlapping_requests).
    A drainer keeps at most worker.waves.WIDTH in flight (hooks never talk to Plex), so more
    than that means two drainers."""
    edges = sorted([(r.time, 1) for r in plex.requests if r.status is not None]
                   + [(r.time + latency, -1) for r in plex.requests if r.status is not None],
                   key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def overlapping_requests(plex, latency: float) -> list[tuple]:
    """Pairs of Plex requests in flight at the same time. A drainer making one request at a
    time (a wave of width 1) never overlaps itself, so any overlap means two drainers.

    A request is in flight at least from its arrival (`time`, once its body is read) until the
    emulator's injected `latency` has passed: it cannot be answered earlier, so a single
    client cannot send its next request earlier. (`duration` also counts the wait for the
    body, which a client's Nagle delay can stretch, so it is not used.)"""
    spans = sorted((r.time, r.time + latency, r.method, r.path)
                   for r in plex.requests if r.status is not None)
    return [(a, b) for a, b in zip(spans, spans[1:]) if b[0] < a[1]]


# -- processes of this test --------------------------------------------------------------------

def stop_cover_watch(env, timeout: float = 30.0) -> None:
    """Wait for this test's drainers to exit, then SIGTERM the cover watch the last one may
    have started (worker/cover_watch.py: it asks Stash for the covers of scenes synced with
    Stash's placeholder, for minutes) and wait until it has exited too."""
    def watchers() -> list[int]:
        return [pid for pid in plexsync_processes(env) if b"--watch-covers" in _cmdline(pid)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and set(plexsync_processes(env)) - set(watchers()):
        time.sleep(0.05)
    for pid in watchers():
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            continue
    while time.monotonic() < deadline and watchers():
        time.sleep(0.05)


def _cmdline(pid: int) -> list:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def plexsync_processes(env) -> list[int]:
    """Pids of PlexSync processes working on this test's data folder (Linux /proc)."""
    marker = f"PLEXSYNC_DATA_DIR={env.data_dir}".encode()
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0") and int(proc.name) != os.getpid():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


# -- cost of a process ------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process from /proc/<pid>/stat (None if gone or not Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- what a person (or an attacker) can read afterwards -----------------------------------------

def readable_texts(env) -> dict[str, str]:
    """Every place a secret could end up: plugin output and logs as Stash saw them, output of
    processes the test started, drainer.log and its rotations, every file of the data
    folder (queue.db with the DLQ, index.db, ...), and every string the Plex emulator stored."""
    texts = {}
    for n, run in enumerate(env.runner.runs):
        texts[f"run {n} ({run.kind} {run.name}) stdout"] = run.stdout_raw.decode("utf-8", "replace")
        texts[f"run {n} ({run.kind} {run.name}) stderr"] = run.stderr_raw.decode("utf-8", "replace")
        texts[f"run {n} output/error/logs"] = repr((run.output, run.error, run.logs))
    texts["spawned processes"] = env.spawned_output()
    if env.data_dir.exists():
        for path in sorted(env.data_dir.rglob("*")):
            if path.is_file():
                texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    texts["dead letters"] = repr(DeadLetters(env.data_dir).list())
    state = env.plex.state
    with state.lock:
        keys = list(state.items)
        texts["plex tag thumbs"] = repr(state.tag_thumbs)
    texts["plex items"] = repr([env.plex.item(k) for k in keys])
    texts["plex request log"] = repr([(r.method, r.path, r.query) for r in env.plex.requests])
    return texts


def secret_leaks(env, extra: dict[str, str] | None = None) -> list[str]:
    texts = readable_texts(env)
    texts.update(extra or {})
    return [f"{name} contains secret #{i}" for name, text in texts.items()
            for i, secret in enumerate(env.secrets) if secret in text]


def tracebacks(env, extra: dict[str, str] | None = None) -> list[str]:
    texts = readable_texts(env)
    texts.update(extra or {})
    return [name for name, text in texts.items() if "Traceback (most recent call last)" in text]


def queue_counts(env) -> dict:
    with QueueStore(env.data_dir) as store:
        return store.counts()
