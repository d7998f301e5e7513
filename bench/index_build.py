"""Figure 4: the Plex path index (plex.index.PathIndex) for 1k, 10k and 50k items, and a warm
match (plex.matcher.match) per scene.

The Plex emulator runs in this process; each size is built by a fresh child process
(`--child`) holding only PlexSync's side, so its ru_maxrss (resource.getrusage RUSAGE_SELF)
is the index build's peak RSS and its CPU time is PlexSync's own work. Wall includes the
emulator rendering the XML pages (it shares the 2 cores); the emulator's share is reported.

Floor: the same /all pages fetched by the same client, not parsed or stored (transfer plus the
emulator's rendering). Baseline: the naive raw-XML dict index tests/test_plex_emulator.py used
to time (requests + ElementTree.fromstring + iterfind into a dict, no SQLite).
Growth: per-item cost at each size, and the marginal cost per item between sizes (linear
growth = a flat marginal cost).
"""
from __future__ import annotations

import json
import sys
import time

from common import (Figure, PlexEmulator, cli, mib, ms, plex_files, run_measured_child,
                    secs)

GOAL_50K_S = 5.0
GOAL_MATCH_S = 0.001
MATCH_SAMPLES = 1000


def _child(url: str, token: str, n: int, data_dir: str, expected: dict) -> dict:
    import resource

    import requests
    from xml.etree import ElementTree

    from plex.client import PlexClient
    from plex.index import FULL_PAGE, PathIndex
    from plex.matcher import match
    from validation.config import parse_config

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    out = {"rss_imports_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}  # + Python
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
                           {"type": 1, "X-Plex-Container-Start": start,
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


def _measure(n: int, tmp: str) -> dict:
    from tests.emulators.plex_library import load_generated_library
    with PlexEmulator(token="bench-token") as plex:
        started = time.perf_counter()
        load_generated_library(plex, n)
        generated = time.perf_counter() - started
        with plex.state.lock:  # the emulator's truth in one pass (find_by_file scans all)
            truth = {p.file: i.rating_key for i in plex.state.items.values() for p in i.parts}
        expected = {f: truth[f] for f in plex_files(n)[::max(1, n // MATCH_SAMPLES)]}
        out = json.loads(run_measured_child(
            [sys.executable, __file__, "--child", plex.url, plex.token, str(n), tmp],
            json.dumps(expected), timeout=600))
        served = [r.duration or 0.0 for r in plex.records("GET", "/library/sections/")
                  if r.path.endswith("/all") and out["build_start"] <= r.time <= out["build_end"]]
    out.update(n=n, generated_s=generated, emulator_serving_s=sum(served), pages=len(served))
    if out["indexed"] != n or out["match_wrong"] or out["naive_items"] != n:
        raise RuntimeError(f"index of {n}: {out['indexed']} indexed, {out['match_wrong']} "
                           f"wrong matches, naive {out['naive_items']}")
    return out


def run(quick: bool) -> Figure:
    import tempfile
    sizes = (1000, 10_000) if quick else (1000, 10_000, 50_000)
    fig = Figure("index", quick)
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="plexsync-bench-index-") as tmp:
            results.append(_measure(n, tmp))
    previous = None
    for r in results:
        n, k = r["n"], f"{r['n'] // 1000}k"
        is_goal = n == 50_000
        fig.add(f"4a index build {k} items: wall", secs(r["build_s"]),
                f"< {GOAL_50K_S:g} s" if is_goal else "-",
                r["build_s"] < GOAL_50K_S if is_goal else None,
                f"floor (fetch only) {secs(r['floor_s'])}; naive dict {secs(r['naive_s'])}")
        fig.add(f"4b index build {k}: PlexSync CPU / emulator serving",
                f"{secs(r['build_cpu_s'])} / {secs(r['emulator_serving_s'])}", "-", None,
                f"{r['pages']} page(s)")
        per_item = r["build_s"] / n * 1e6
        if previous is None:
            growth = "includes the fixed cost (section list, first page)"
        else:  # the cost of the items added since the smaller size: flat = linear growth
            marginal = (r["build_s"] - previous["build_s"]) / (n - previous["n"]) * 1e6
            growth = (f"marginal {marginal:.1f} us/item over the "
                      f"{previous['n'] // 1000}k build")
        fig.add(f"4c index build {k}: per item", f"{per_item:.1f} us", "-", None, growth)
        previous = r
        fig.add(f"4d index build {k}: peak RSS", mib(r["rss_build_kib"]), "-", None,
                f"after imports {mib(r['rss_imports_kib'])}")
        fig.add(f"4e warm match per scene ({k} index)", ms(r["match_s"]),
                f"< {GOAL_MATCH_S * 1000:g} ms", r["match_s"] < GOAL_MATCH_S,
                f"bare PathIndex.lookup {ms(r['lookup_s'])}")
    big = results[-1]
    fig.add(f"4f emulator: generate {big['n'] // 1000}k items", secs(big["generated_s"]),
            "-", None, "(test harness cost, not PlexSync)")
    if quick:
        fig.add("4 (quick: 50k not built)", "-", f"50k < {GOAL_50K_S:g} s", None, "-")
    fig.details["sizes"] = results
    return fig


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, url, token, n, data_dir = sys.argv
        print(json.dumps(_child(url, token, int(n), data_dir, json.load(sys.stdin))))
    else:
        cli(run)
