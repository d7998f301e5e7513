"""Health Check: is every link from Stash to the right Plex item working? ✓ or ✗ + the fix.

Checks run in the order a sync depends on them and a failed link skips what needs it (no
point checking libraries when Plex is unreachable), so the first ✗ is the thing to fix.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from hooks.stash_api import StashError
from plex.client import PlexClient
from plex.errors import PlexAuthError, PlexSyncError, PlexUnavailable
from plex.history import HistoryRefused, check_history
from plex.index import PathIndex, configured_sections, wrong_type_message
from sync_queue.plays import PlayImports
from worker import history_refusal as refusals
from worker.tasks import health_paths
from validation.config import setting_label
from worker.tasks.env import TaskEnv, TaskResult

OK, FAIL = "✓", "✗"


@dataclass(frozen=True)
class Check:
    ok: bool
    line: str
    fix: str = ""

    def text(self) -> str:
        return f"{OK if self.ok else FAIL} {self.line}" + (f" — fix: {self.fix}" if self.fix else "")


def health_check(env: TaskEnv) -> TaskResult:
    checks = [_stash(env)]
    client = PlexClient(env.cfg, env.data_dir)
    plex = _plex(env, client)
    checks += plex
    if all(c.ok for c in plex):
        sections, library_checks = _libraries(env, client)
        checks += library_checks
        if sections:
            checks.append(_paths(env, client))
        if env.cfg.imports_anything:
            checks.append(_history(env, client))
    failed = sum(not c.ok for c in checks)
    title = (f"Health Check: all {len(checks)} checks passed" if not failed else
             f"Health Check: {failed} of {len(checks)} checks failed")
    text = "\n".join([title] + [f"  {c.text()}" for c in checks])
    data = {"checks": [{"ok": c.ok, "line": c.line, "fix": c.fix} for c in checks]}
    return TaskResult(text, data, ok=not failed)


def _stash(env: TaskEnv) -> Check:
    try:
        version = env.stash.version()
    except StashError as exc:
        return Check(False, f"Stash at {env.stash.base_url}: {exc}",
                     "check the Stash URL and API key (Settings > Security > API Key)")
    return Check(True, f"Stash {version} reachable at {env.stash.base_url}")


def _plex(env: TaskEnv, client: PlexClient) -> list[Check]:
    url = env.cfg.plex_url
    try:
        client.ping()
        root = client.query_xml("/")
    except PlexAuthError:
        return [Check(True, f"Plex reachable at {url}"),
                Check(False, "Plex refused the Plex token",
                      "put a current X-Plex-Token in the Plex token setting (Plex Web: an item's "
                      "… menu > Get Info > View XML shows it in the address)")]
    except PlexUnavailable as exc:
        fix = ("check the Plex URL setting (http://host:32400) and that Plex is running; from a Docker "
               "container use the host's address, not localhost")
        if "SSL" in str(exc) or "certificate" in str(exc).lower():
            fix += f"; for a self-signed certificate turn off {setting_label('verify_tls')}"
        return [Check(False, f"Plex not reachable at {url}: {exc}", fix)]
    except PlexSyncError as exc:
        return [Check(False, f"Plex at {url} answered unexpectedly: {exc}",
                      "check that the Plex URL setting points at Plex Media Server itself")]
    name, version = root.attrib.get("friendlyName", "?"), root.attrib.get("version", "?")
    return [Check(True, f"Plex reachable at {url}"), Check(True, "Plex token accepted"),
            Check(True, f"Plex server '{name}', version {version}")]


def _history(env: TaskEnv, client: PlexClient) -> Check:
    """Can plays come back? Asked live (no rows, only the count); what Plex says is also
    remembered, so background syncs stop asking a refusing Plex, or start again at once."""
    store = PlayImports(env.data_dir)
    try:
        try:
            plays = check_history(client)
        except HistoryRefused as exc:
            refusal, _ = refusals.after_refusal(store.refusal(), exc.status,
                                                env.cfg.token_fingerprint, time.time())
            store.put_refusal(refusal)
            line, _, fix = refusals.describe(refusal).partition(" — ")
            return Check(False, line, fix)
        except PlexSyncError as exc:
            return Check(False, f"could not read Plex's play history: {exc}",
                         "run the check again when Plex answers")
        store.clear_refusal()
    finally:
        store.close()
    kept = f" ({plays} plays of the owner's account)" if plays is not None else ""
    return Check(True, f"Plex play history readable{kept}")


def _libraries(env: TaskEnv, client: PlexClient) -> tuple[list[dict], list[Check]]:
    try:
        every = client.sections()
    except PlexSyncError as exc:
        return [], [Check(False, f"cannot list Plex libraries: {exc}", "check Plex's logs")]
    have = ", ".join(s["title"] for s in every) or "none"
    checks = []
    wanted = {t.casefold() for t in env.cfg.plex_libraries}
    for title in env.cfg.plex_libraries:
        if title.casefold() not in {s["title"].casefold() for s in every}:
            checks.append(Check(False, f"library '{title}' (setting Plex libraries) not found in Plex",
                                f"use the exact titles Plex shows (Plex has: {have})"))
    for section in every:
        if section["title"].casefold() in wanted and section["type"] != "movie":
            reason, _, fix = wrong_type_message(section).partition(". ")
            checks.append(Check(False, f"{reason} (plex_libraries)", fix))
    try:
        chosen = configured_sections(every, env.cfg)
    except PlexSyncError:
        chosen = []
    if not chosen:
        what = "none of the Plex libraries setting's titles" if wanted else "no movie library"
        checks.append(Check(False, f"Plex has {what} to match scenes in (Plex has: {have})",
                            "set Plex libraries to the titles of the libraries holding your scenes"))
        return [], checks
    counts = "; ".join(f"'{s['title']}' {_item_count(client, s['id'])} items" for s in chosen)
    scope = "setting Plex libraries" if wanted else "every movie library"
    checks.insert(0, Check(True, f"libraries found ({scope}): {counts}"))
    return chosen, checks


def _item_count(client: PlexClient, section_id: str) -> str:
    try:  # Container-Size 0: Plex answers with the total and no items
        root = client.query_xml(f"/library/sections/{section_id}/all", {
            "type": 1, "X-Plex-Container-Start": 0, "X-Plex-Container-Size": 0})
    except PlexSyncError:
        return "?"
    return root.attrib.get("totalSize", root.attrib.get("size", "?"))


def _paths(env: TaskEnv, client: PlexClient) -> Check:
    index = PathIndex(env.data_dir)
    try:
        index.ensure(client, env.cfg)
        index.refresh(client, env.cfg)  # a check against last week's index proves nothing
        sample = health_paths.check_paths(health_paths.sample_scenes(env.stash), index, env.cfg)
    except (PlexSyncError, StashError) as exc:
        return Check(False, f"Path map: could not sample scenes: {exc}", "run the check again")
    finally:
        index.close()
    ok, line, fix = health_paths.describe(sample)
    return Check(ok, line, fix)
