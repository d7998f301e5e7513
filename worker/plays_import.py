"""Plex -> Stash: bring plays, resume points and ratings made in Plex back to Stash.

One run: read the owner's Plex history since the cursor (ONE request when nothing is new),
store the new rows, then for the scenes concerned read Plex's viewing state and Stash's play
state in batches and apply worker.plays' rules. A full run (the task) looks at every synced
scene; an incremental run (end of a background drain, at most every 5 minutes) only at scenes
with new plays or never imported. Nothing here ever writes to Plex.

No loops: sceneAddPlay and sceneSaveActivity fire no Stash hook, and the rating goes through
sceneUpdate(rating100), whose hook input touches no field PlexSync syncs, so the hook skips
it without a request (hooks.scene_hook.SYNCED_INPUT_FIELDS).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from hooks.stash_api import StashClient
from hooks.stash_documents import has_add_play
from plex.history import HistoryRefused, read_activity, read_history
from sync_queue.lock import DrainLock
from sync_queue.plays import PlayImports, scene_rating_keys
from validation.config import Config, setting_label
from worker import history_refusal as refusals
from worker import plays as rules

log = logging.getLogger(__name__)

PLAYS_LOCK = "plays.lock"
STATE_FLUSH = 200  # scene states per SQLite transaction
PLAYS_PER_REQUEST = 50  # scenes' sceneAddPlay per Stash request
# At most one history request per this many seconds from background drains.
INCREMENTAL_EVERY_S = float(os.environ.get("PLEXSYNC_PLAYS_INTERVAL", "300"))


@dataclass
class SceneImport:
    scene_id: str
    rating_key: str
    plays: tuple[int, ...] = ()
    resume: float | None = None
    rating: tuple[bool, int | None] = (False, None)

    @property
    def changes(self) -> bool:
        return bool(self.plays) or self.resume is not None or self.rating[0]


@dataclass
class ImportReport:
    plex_requests: int = 0
    stash_requests: int = 0
    new_history: int = 0
    scenes_checked: int = 0
    plays_added: int = 0
    resume_points: int = 0
    ratings: int = 0
    scenes: list[SceneImport] = field(default_factory=list)
    legacy_stash: bool = False
    skipped: str = ""         # why nothing was done (lock busy, too soon, turned off)
    refused: str = ""         # Plex refused the history for good (worker.history_refusal)
    refusal_is_news: bool = False  # first time for this cause: say it; else it was said
    history_back: bool = False     # history answered again after a remembered refusal

    @property
    def scenes_with_changes(self) -> int:
        return sum(1 for s in self.scenes if s.changes)

    def line(self) -> str:
        if self.skipped:
            return f"Plex plays: {self.skipped}"
        if self.refused:
            return f"Plex plays: {self.refused}"
        return (f"from Plex: {self.plays_added} plays, {self.resume_points} resume points, "
                f"{self.ratings} ratings into {self.scenes_with_changes} scenes "
                f"({self.new_history} new history entries, {self.plex_requests} Plex requests)")


def run_import(cfg: Config, stash: StashClient, plex, data_dir: Path, *, full: bool,
               dry_run: bool = False, reporter=None, clock=time.time) -> ImportReport:
    """One import run under the plays lock (a concurrent run would race on the same plays)."""
    report = ImportReport()
    if not cfg.imports_anything:
        report.skipped = ("nothing to import: " + ", ".join(
            setting_label(k) for k in ("import_plays", "import_resume_points", "import_ratings"))
            + " are all off")
        return report
    lock = DrainLock(data_dir, PLAYS_LOCK)
    if not lock.try_acquire(wait=0 if not full else 30):
        report.skipped = "another import is running"
        return report
    store = PlayImports(data_dir, clock=clock)
    try:
        _run(cfg, stash, plex, store, report, full, dry_run, reporter, clock)
    except HistoryRefused as exc:
        if exc.status in (401, 403):
            plex.ping()  # a token Plex refuses for everything is no history matter: raises
        refusal, report.refusal_is_news = refusals.after_refusal(
            store.refusal(), exc.status, cfg.token_fingerprint, clock())
        if not dry_run:
            store.put_refusal(refusal)
        report.refused = refusals.describe(refusal)
    finally:
        store.close()
        lock.release()
    return report


def import_if_due(cfg: Config, stash: StashClient, plex, data_dir: Path,
                  clock=time.time) -> ImportReport | None:
    """The end of a background drain: an incremental run if the last one is old enough (6 hours
    after Plex refused the history for good: worker.history_refusal)."""
    if not cfg.imports_anything:
        return None
    store = PlayImports(data_dir, clock=clock)
    try:
        cursor = store.cursor()
        if not refusals.history_due(cursor.get("checked_at"), store.refusal(),
                                    cfg.token_fingerprint, clock(), INCREMENTAL_EVERY_S):
            return None
        # The attempt counts even if Plex fails it: a Plex that is down is asked no more often.
        store.put_cursor({**cursor, "checked_at": clock()})
    finally:
        store.close()
    return run_import(cfg, stash, plex, data_dir, full=False, clock=clock)


def _run(cfg, stash, plex, store: PlayImports, report: ImportReport, full: bool, dry_run: bool,
         reporter, clock) -> None:
    cursor = store.cursor()
    started = int(clock())
    _phase(reporter, "reading Plex play history", 0.0, 0.2)
    entries, report.plex_requests = read_history(plex, cursor.get("since"))
    if not dry_run:
        report.history_back = store.clear_refusal()
    known = store.known_ids(entries)
    new = [e for e in entries if e.entry_id not in known]
    report.new_history = len(new)
    if not dry_run:
        store.add_history(new)
    mapping = scene_rating_keys(store.db)
    states = store.states()
    touched = {e.rating_key for e in new}
    scene_ids = sorted((sid for sid, rk in mapping.items()
                        if full or rk in touched or _unsettled(cfg, states.get(sid), rk)),
                       key=_numeric)
    report.scenes_checked = len(scene_ids)
    if scene_ids:
        _phase(reporter, "reading what was watched in Plex", 0.2, 0.4)
        keys = {mapping[sid] for sid in scene_ids}
        activity, requests = read_activity(plex, keys)
        report.plex_requests += requests
        legacy = not has_add_play(stash.version())
        report.legacy_stash = legacy
        stash_states = stash.play_states(scene_ids, legacy=legacy)
        report.stash_requests += 1 + -(-len(scene_ids) // 100)  # version + state batches
        times = store.history_times(keys)
        if dry_run:
            for e in new:
                times.setdefault(e.rating_key, []).append(e.viewed_at)
        _phase(reporter, "bringing plays into Stash", 0.4, 1.0)
        pending: dict = {}
        plays: list = []  # (scene, times) not sent yet
        for done, sid in enumerate(scene_ids, 1):
            act, scene = activity.get(mapping[sid]), stash_states.get(sid)
            state = states.get(sid) or {}
            if state.get("rating_key") != mapping[sid]:  # first import, or synced to a new item
                state = {k: v for k, v in state.items() if k in ("imported", "rating")}
                state["rating_key"] = mapping[sid]
            if act is not None and scene is not None:
                state = _scene(cfg, stash, report, sid, act, scene, state,
                               times.get(act.rating_key, []), legacy, dry_run, started, plays)
            else:  # gone from Plex or Stash: remembered, so incremental runs stop asking
                state["gone"] = True
            if state is not None and not dry_run:
                pending[sid] = state
            last = done == len(scene_ids)
            if len(plays) >= PLAYS_PER_REQUEST or (plays and (last or len(pending) >= STATE_FLUSH)):
                stash.add_plays(plays)
                report.stash_requests += 1
                plays = []
            if len(pending) >= STATE_FLUSH or (pending and last):
                store.put_states(pending)  # after Stash has the plays: see worker.plays
                pending = {}
            if reporter is not None:
                reporter.update(done, len(scene_ids))
    if not dry_run:
        since = max([cursor.get("since") or 0] + [e.viewed_at for e in entries])
        store.put_cursor({"since": since or None, "checked_at": clock()})


def _scene(cfg, stash, report, sid, act, scene, state, history_times, legacy, dry_run,
           started, plays: list) -> dict:
    """Apply the rules to one scene; returns its new import state."""
    state = {k: v for k, v in state.items() if k != "gone"}
    result = SceneImport(sid, act.rating_key)
    if cfg.import_plays and "before_history" not in state and (
            act.last_viewed_at is None or act.last_viewed_at < started):
        # Not when watched in the second we read: the history we hold may lack that play,
        # which would then be counted as an old one too. A later run settles it.
        state["before_history"] = list(rules.plays_before_history(
            act.view_count, act.last_viewed_at, history_times))
    if cfg.import_plays:
        in_stash = None if legacy else [rules.epoch(t) for t in scene.get("play_history") or []]
        plan = rules.plan_plays(history_times + state.get("before_history", []),
                                state.get("imported", []), in_stash)
        result.plays = plan.to_add
        if plan.to_add and not dry_run:
            if legacy:
                for _ in plan.to_add:
                    stash.increment_play_count(sid)
                report.stash_requests += len(plan.to_add)
            else:  # sent in batches by _run, before this state is recorded
                plays.append((sid, [rules.stash_timestamp(t) for t in plan.to_add]))
        state["imported"] = list(plan.imported)
    if cfg.import_resume_points:
        result.resume = rules.resume_to_import(
            act.view_offset_ms, act.last_viewed_at, scene.get("resume_time"),
            rules.epoch(scene.get("last_played_at")), state.get("resume_seen"))
        if result.resume is not None and not dry_run:
            stash.save_resume_time(sid, result.resume)
            report.stash_requests += 1
        state["resume_seen"] = [act.view_offset_ms, act.last_viewed_at]
    if cfg.import_ratings:
        plex100 = rules.plex_rating100(act.user_rating)
        result.rating = rules.rating_to_import(plex100, scene.get("rating100"), state.get("rating"))
        if result.rating[0] and not dry_run:
            stash.set_rating(sid, result.rating[1])
            report.stash_requests += 1
        stash_now = result.rating[1] if result.rating[0] else scene.get("rating100")
        state["rating"] = {"plex": plex100, "stash": stash_now}
    report.plays_added += len(result.plays)
    report.resume_points += result.resume is not None
    report.ratings += result.rating[0]
    report.scenes.append(result)
    return state


def _unsettled(cfg: Config, state: dict | None, rating_key: str) -> bool:
    """Never imported, synced to another Plex item since, or its old plays still unknown."""
    state = state or {}
    if state.get("rating_key") != rating_key:
        return True
    return cfg.import_plays and "before_history" not in state and not state.get("gone")


def _phase(reporter, label: str, start: float, end: float) -> None:
    if reporter is not None:
        reporter.phase(label, start, end)


def _numeric(value: str):
    return (0, int(value)) if value.isdigit() else (1, value)
