"""The measured process of figure 4 (bench/index_build.py starts it through a launcher, see
common.run_measured_child): PlexSync's index side only, so its own getrusage ru_maxrss and CPU
time are the index build's. It imports nothing of the bench or the emulators for that reason.

    python bench/index_child.py URL TOKEN N DATA_DIR  < {"file": expected ratingKey, ...}
prints one JSON object: build wall/CPU/peak RSS, warm match and lookup cost, floor, baseline.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from xml.etree import ElementTree

import requests

from plex.client import PlexClient
from plex.index import FULL_PAGE, PathIndex
from plex.index_xml import LEAN_LISTING
from plex.matcher import match
from validation.config import parse_config


def measure(url: str, token: str, n: int, data_dir: str, expected: dict) -> dict:
    """Build the index of an n-item section, then time matches, lookups, floor, baseline."""
    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    # peak so far: the interpreter plus plexapi, requests and PlexSync's plex modules
    out = {"rss_imports_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    cfg = parse_config({"plex_url": url, "plex_token": token})
    client, index = PlexClient(cfg, data_dir), PathIndex(data_dir)
    client.ping()  # connected first: the build below is the index alone
    out["build_start"], wall, c0 = time.time(), time.perf_counter(), cpu()
    index.ensure(client, cfg)
    out["build_s"], out["build_cpu_s"] = time.perf_counter() - wall, cpu() - c0
    out["build_end"] = time.time()
    out["rss_build_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    section = index.sections()[0]["id"]
    out["indexed"] = index.item_count(section)

    snapshots = [{"id": str(i), "files": [f]} for i, f in enumerate(expected)]
    started = time.perf_counter()
    found = [match(client, index, cfg, s) for s in snapshots]
    out["match_s"] = (time.perf_counter() - started) / len(snapshots)
    out["match_wrong"] = sum(1 for m, f in zip(found, expected)
                             if (m.confidence, m.rating_key) != ("HIGH", str(expected[f])))
    started = time.perf_counter()
    for f in expected:
        index.lookup(f)
    out["lookup_s"] = (time.perf_counter() - started) / len(expected)

    started, start = time.perf_counter(), 0  # floor: same pages, not parsed
    while start < n:
        client.query_bytes(f"/library/sections/{section}/all",
                           {**LEAN_LISTING, "X-Plex-Container-Start": start,
                            "X-Plex-Container-Size": FULL_PAGE})
        start += FULL_PAGE
    out["floor_s"] = time.perf_counter() - started

    session, naive, start = requests.Session(), {}, 0  # baseline: the old test's dict index
    session.headers["X-Plex-Token"] = token
    started = time.perf_counter()
    while True:
        body = session.get(f"{url}/library/sections/{section}/all", timeout=60, params={
            "type": 1, "sort": "addedAt:desc", "X-Plex-Container-Start": start,
            "X-Plex-Container-Size": 5000}).content
        root = ElementTree.fromstring(body)
        for part in root.iterfind("Video/Media/Part"):
            naive[part.get("file")] = start
        start += 5000
        if start >= int(root.get("totalSize")):
            break
    out["naive_s"], out["naive_items"] = time.perf_counter() - started, len(naive)
    index.close()
    return out


if __name__ == "__main__":
    _, url, token, n, data_dir = sys.argv
    print(json.dumps(measure(url, token, int(n), data_dir, json.load(sys.stdin))))
