"""Batched Plex reads (issue 13 item 3): GET /library/metadata/k1,k2,... reloads a whole batch
of items, and the drain uses it so a bulk edit of already-synced scenes costs one GET per
batch plus one PUT per changed scene. Counted from the Plex emulator's request log."""
import time

import pytest

from plex.batch_reads import MAX_KEYS, BatchedReads, fetch_items
from plex.client import PlexClient
from sync_queue.records import SyncRecords
from sync_queue.store import QueueStore
from validation.config import parse_config
from worker.background import build_plex_context
from worker.drain import drain

N = 100


def make_scene(i, title, files, cover=None):
    return {"id": str(i), "title": title, "details": "", "date": None, "studio": None,
            "parent_studio": None, "performers": [], "tags": [], "groups": [],
            "files": files, "cover_url": cover, "updated_at": f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z"}


def job(scene):
    return {"scene_id": scene["id"], "update_type": "bulk", "data": scene,
            "enqueued_at": time.time(), "job_key": f"k{scene['id']}-{scene['title']}",
            "attempts": 0, "not_before": 0.0}


@pytest.fixture
def library(plex_empty):
    section = plex_empty.add_section("Bulk", location="/data/bulk")
    files = [f"/data/bulk/{i:03d}/scene.mp4" for i in range(N)]
    keys = plex_empty.add_items(section, [{"title": f"plex {i}", "files": [files[i]]}
                                          for i in range(N)])
    return plex_empty, files, [str(k) for k in keys]


def test_many_items_come_back_full_from_one_request(library, tmp_path):
    plex, files, keys = library
    cfg = parse_config({"plex_url": plex.url, "plex_token": plex.token})
    client = PlexClient(cfg, tmp_path)
    client.ping()
    plex.clear_log()
    items = fetch_items(client, keys[:40] + ["999999"])  # a deleted item is simply absent
    assert sorted(items) == sorted(keys[:40])
    assert [r.path for r in plex.requests] == [f"/library/metadata/{','.join(keys[:40] + ['999999'])}"]
    assert items[keys[7]].files == (files[7],) and items[keys[7]].title == "plex 7"
    assert items[keys[7]].section_id  # each Video carries its section
    assert fetch_items(client, ["999998", "999999"]) == {}  # Plex has none: 404, not an error
    plex.clear_log()
    fetch_items(client, [str(1000 + k) for k in range(MAX_KEYS + 1)])
    assert plex.count("GET") == 2  # chunks of MAX_KEYS keep the URL short


def test_a_prefetched_item_is_handed_out_once(library, tmp_path):
    plex, _, keys = library
    cfg = parse_config({"plex_url": plex.url, "plex_token": plex.token})
    reads = BatchedReads(PlexClient(cfg, tmp_path))
    reads.ping()
    assert reads.prefetch(keys[:3]) == 3
    plex.clear_log()
    assert reads.fetch_item(keys[0]).rating_key == keys[0]
    assert plex.count() == 0  # served from the batch
    reads.fetch_item(keys[0])  # the first job may have written to it: reload from Plex
    assert [r.path for r in plex.requests] == [f"/library/metadata/{keys[0]}"]


def test_a_stale_batch_is_not_used(library, tmp_path):
    plex, _, keys = library
    now = [100.0]
    cfg = parse_config({"plex_url": plex.url, "plex_token": plex.token})
    reads = BatchedReads(PlexClient(cfg, tmp_path), clock=lambda: now[0])
    reads.prefetch(keys[:2])
    now[0] += 60  # the drain paused (breaker open) long enough for a person to edit in Plex
    plex.clear_log()
    reads.fetch_item(keys[1])
    assert plex.count("GET") == 1


def _drain(cfg, data_dir, scenes):
    with QueueStore(data_dir) as store:
        store.enqueue([job(s) for s in scenes])
    ctx, index = build_plex_context(cfg, data_dir, lambda url: b"")
    try:
        return drain(ctx, idle_exit_after=None)
    finally:
        index.close()


def test_bulk_edit_of_synced_scenes_costs_one_get_per_batch_and_one_put_per_scene(library,
                                                                                   tmp_path):
    plex, files, keys = library
    cfg = parse_config({"plex_url": plex.url, "plex_token": plex.token})
    first = _drain(cfg, tmp_path, [make_scene(i, f"first {i}", [files[i]]) for i in range(N)])
    assert first.synced == N and not first.errors
    assert SyncRecords(tmp_path).count() == N
    plex.clear_log()

    summary = _drain(cfg, tmp_path, [make_scene(i, f"bulk {i}", [files[i]]) for i in range(N)])

    assert summary.synced == N and not summary.errors
    gets = [r.path for r in plex.records("GET")]
    assert plex.count("PUT") == N  # one PUT per changed scene
    assert len(gets) <= 2, gets  # one batched reload (plus at most the index's check)
    assert plex.count() <= 1.2 * N
    assert all(plex.item(k)["title"] == f"bulk {i}" for i, k in enumerate(keys))
