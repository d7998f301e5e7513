"""The measured process of bench/plays_import.py: PlexSync's import side only (run through
common.run_measured_child), so its own ru_maxrss and CPU time are the import's.

    python bench/plays_child.py PLEX_URL TOKEN STASH_URL DATA_DIR MODE(full|incremental)
prints one JSON object: wall, CPU, peak RSS before and after, and the import's report.
"""
from __future__ import annotations

import json
import resource
import sys
import time

from hooks.stash_api import StashClient
from plex.client import PlexClient
from validation.config import parse_config
from worker.plays_import import run_import


def main(plex_url: str, token: str, stash_url: str, data_dir: str, mode: str) -> dict:
    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    out = {"rss_imports_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    cfg = parse_config({"plex_url": plex_url, "plex_token": token})
    wall, c0 = time.perf_counter(), cpu()
    report = run_import(cfg, StashClient(stash_url, timeout=120), PlexClient(cfg, data_dir),
                        data_dir, full=mode == "full")
    out.update(seconds=time.perf_counter() - wall, cpu_s=cpu() - c0,
               rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               plays_added=report.plays_added, new_history=report.new_history,
               scenes=report.scenes_checked, plex_requests=report.plex_requests,
               stash_requests=report.stash_requests)
    return out


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:6])))
