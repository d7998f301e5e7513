"""Figure 3: Plex requests per scene, counted from the Plex emulator's request log.

PlexSync's own path, in this process: jobs built from Stash's answer (scenes_by_id ->
hooks.scene_jobs.jobs_from_scenes), committed with QueueStore.enqueue (loopback.queue_scenes),
then drained by worker.drain.drain with the context worker.background.build_plex_context wires
(real PlexClient, PathIndex, plex.sync). A fresh context per scenario, as each drainer has its
own. Each drain must end with every scene synced (or, for the re-sync, every one unchanged).

Each request is charged to a scene when it names the scene's item (/library/metadata/<key>...,
or the PUT's id=<key>); everything else (connect, section list, index pages) is per-drain
overhead, shown separately. Scenes have covers, so poster and background are 2 images.

3e (issue 13 item 3): a bulk edit of 100 already-synced scenes, queued as the hook queues a
bulk edit (one commit), drained once with per-job reloads (the drain without batched reads,
as baseline) and once as shipped (their items reloaded 100 per GET /library/metadata/k1,...).
Counted: every Plex request of the drain except image uploads, per scene; PUTs per scene.
"""
from __future__ import annotations

import collections
import re

from common import Figure, cli
from loopback import (StashClient, System, add_matching_scenes, make_png, plex_files,
                      queue_scenes)
from validation.config import parse_config
from worker.background import build_plex_context
from worker.drain import drain

IMAGES_PER_COVER = 2  # poster + background
_METADATA = re.compile(r"^/library/metadata/(\d+)(?:/|$)")  # one item's path, not a batch
BULK = 100  # issue 13 item 3: a bulk edit of 100 already-synced scenes


def _charge(records, keys: set) -> tuple[dict, list]:
    """Requests per rating key of ours, and the rest (per-drain overhead)."""
    per_item, overhead = collections.defaultdict(list), []
    for r in records:
        m = _METADATA.match(r.path)
        key = m.group(1) if m else (r.query.get("id") if r.method == "PUT" else None)
        if key in keys:
            per_item[key].append((r.method, r.path))
        else:
            overhead.append((r.method, r.path))
    return per_item, overhead


def _sync(system: System, stash: StashClient, ids: list, keys: set, expect: str,
          batched: bool = True) -> dict:
    """Queue the scenes as the hook does, drain once; what it cost in Plex requests.
    expect: "synced" or "unchanged", what the drain must report for every scene."""
    cfg = parse_config(queue_scenes(system.stash.url, system.data_dir, ids))
    system.plex.clear_log()
    ctx, index = build_plex_context(cfg, system.data_dir, stash.fetch_image)
    if not batched:
        ctx.prefetch = None
    try:
        summary = drain(ctx, idle_exit_after=None)
    finally:
        index.close()
    if summary.errors or (expect and getattr(summary, expect) != len(ids)):
        raise RuntimeError(f"expected {len(ids)} {expect}, got: {summary.line()}")
    records = system.plex.requests
    per_item, overhead = _charge(records, keys)
    counts = [len(per_item.get(k, [])) for k in keys]
    methods = collections.Counter(m for r in per_item.values() for m, _ in r)
    return {"max": max(counts), "mean": sum(counts) / len(counts),
            "writes": sum(1 for r in records if r.method in ("PUT", "POST", "DELETE")),
            "overhead": overhead, "methods": dict(methods), "total": len(records),
            "synced": summary.synced, "unchanged": summary.unchanged,
            "puts": sum(1 for r in records if r.method == "PUT"),
            "not_uploads": sum(1 for r in records if r.method != "POST"),
            "example": per_item[sorted(keys)[0]]}


def run(quick: bool) -> Figure:
    scenes, library = (10, 1000) if quick else (20, 5000)
    fig = Figure("requests per scene", quick)
    with System() as system:
        _, all_ids = add_matching_scenes(system.stash, system.plex, library, covers=False)
        ids = all_ids[:scenes]
        for scene in ids:  # a real cover for the scenes we sync
            system.stash.set_cover(scene, make_png(f"cover {scene}"))
        stash = StashClient(system.stash.url, timeout=30)
        keys = {str(system.plex.find_by_file(f)[0]) for f in plex_files(scenes)}
        results = {}
        results["first"] = _sync(system, stash, ids, keys, "synced")
        # Stash stamps updated_at (and the cover URL's ?t=) in whole seconds: each change
        # happens a couple of seconds after the last sync, as a person's would.
        system.stash.advance_time(2)
        for scene in ids:
            system.stash.edit_scene(scene, title=f"Edited title {scene}")
        results["edit"] = _sync(system, stash, ids, keys, "synced")
        results["same"] = _sync(system, stash, ids, keys, "unchanged")
        system.stash.advance_time(2)
        for scene in ids:
            system.stash.set_cover(scene, make_png(f"new cover {scene}"))
        results["cover"] = _sync(system, stash, ids, keys, "synced")
        bulk_ids = all_ids[:BULK]
        bulk_keys = {str(system.plex.find_by_file(f)[0]) for f in plex_files(BULK)}
        _sync(system, stash, bulk_ids, bulk_keys, None)  # all 100 synced before (some were)
        for label, batched in (("bulk_single", False), ("bulk", True)):
            system.stash.advance_time(2)
            for scene in bulk_ids:  # what bulkSceneUpdate(tag_ids ADD) does to each scene
                system.stash.edit_scene(scene, tags=["Bench", f"Bulk tag {label}"])
            results[label] = _sync(system, stash, bulk_ids, bulk_keys, "synced", batched)

    img = IMAGES_PER_COVER
    plan = (("first", f"3a first sync, cold index ({scenes} scenes, {library}-item library)",
             2 + img, f"<= {2 + img} (2 + {img} images)"),
            ("edit", "3b steady-state edit (title)", 2, "<= 2"),
            ("same", "3c unchanged re-sync", 2, "<= 2, 0 writes"),
            ("cover", "3d cover change", 2 + img, f"<= {2 + img} (2 + {img} images)"))
    for key, label, limit, goal in plan:
        r = results[key]
        ok = r["max"] <= limit and (key != "same" or r["writes"] == 0)
        over = collections.Counter(m for m, _ in r["overhead"])
        shape = _methods(r["methods"], scenes)
        fig.add(f"{label}: requests per scene (max)", f"{r['max']} ({shape})", goal, ok,
                f"+{len(r['overhead'])} per drain: {_plain(over)}")
        if key == "same":
            fig.add(f"{label}: writes", str(r["writes"]), "0", r["writes"] == 0, "-")
    single, bulk = results["bulk_single"], results["bulk"]
    per_scene = bulk["not_uploads"] / BULK
    fig.add(f"3e bulk edit of {BULK} synced scenes: Plex requests per scene (no image uploads)",
            f"{per_scene:.2f} ({bulk['total']} requests: {_plain(collections.Counter(m for m, _ in bulk['overhead']))} "
            f"shared, {_methods(bulk['methods'], BULK)} per scene)", "<= 1.2",
            per_scene <= 1.2, f"per-job reloads: {single['not_uploads'] / BULK:.2f} "
                              f"({single['total']} requests)")
    fig.add(f"3e bulk edit of {BULK} synced scenes: PUTs per changed scene",
            f"{bulk['puts'] / BULK:g}", "<= 1", bulk["puts"] <= BULK,
            f"per-job reloads: {single['puts'] / BULK:g}")
    fig.details = {k: {**v, "overhead": v["overhead"][:20]} for k, v in results.items()}
    return fig


def _methods(counter: dict, scenes: int) -> str:
    """Average requests per scene by method, e.g. "1 GET + 1 PUT"."""
    return " + ".join(f"{counter[m] / scenes:g} {m}" for m in ("GET", "PUT", "POST", "DELETE")
                      if counter.get(m))


def _plain(counter) -> str:
    return ", ".join(f"{n} {m}" for m, n in sorted(counter.items())) or "none"


if __name__ == "__main__":
    cli(run)
