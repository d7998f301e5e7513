"""Render the pictures in README.md and docs/config.md from the real UI: the real Stash from
../shared with PlexSync installed, the Plex emulator, Debian's chromium.

    .venv/bin/python -m tests.ui.screenshots [--out docs/images]

Writes scene-panel-synced.png and scene-panel-failed.png (a scene's PlexSync tab) and
plexsync-page.png (the PlexSync page after a Health Check). Every state is reached the way a
user reaches it: an edit synced with Sync now, a play brought back from Plex, a scene two Plex
items claim (strict matching lists it under Failed Syncs).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.real_stash.server import unavailable_reason
from tests.ui.browser import (browser_unavailable_reason, by_testid, launch, open_in_app,
                              open_scene_panel)
from tests.ui.conftest import PLEX_ROOT, clip_path, running_stage
from tests.ui.panel_states import panel_in_state
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
SYNCED, FAILED = 0, 3
VIEWPORT = {"width": 1440, "height": 900}


def dress_up(stage) -> None:
    """Metadata a real scene has: studio, performers, tags, a date, a description."""
    gql = stage.stash.graphql
    studio = gql('mutation { studioCreate(input: {name: "Harbor Light Films"}) { id } }')["studioCreate"]["id"]
    performers = [gql("mutation P($n: String!) { performerCreate(input: {name: $n}) { id } }",
                      {"n": name})["performerCreate"]["id"] for name in ("Mara Quinn", "Theo Park")]
    tags = [gql("mutation T($n: String!) { tagCreate(input: {name: $n}) { id } }",
                {"n": name})["tagCreate"]["id"] for name in ("Sunset", "Coast", "4K")]
    for n, title in ((SYNCED, "Golden Hour at the Pier"), (FAILED, "Night Ferry")):
        gql("mutation U($i: SceneUpdateInput!) { sceneUpdate(input: $i) { id } }", {"i": {
            "id": stage.scene_id(n), "title": title, "date": "2024-06-21", "studio_id": studio,
            "performer_ids": performers, "tag_ids": tags,
            "details": "Late light over the water, filmed from the end of the pier."}})


def answer(stage, **args) -> dict:
    status, body = stage.operation(args)
    assert status == 200 and not body.get("errors"), body
    return body["data"]["runPluginOperation"]


def prepare(stage) -> None:
    stage.reset()
    dress_up(stage)  # each edit's hook queues a sync, as in any Stash
    duplicate = stage.plex.add_item(stage.section, "Night Ferry (copy)", files=[
        PLEX_ROOT + "/" + clip_path(stage.stash.media, FAILED).relative_to(stage.stash.media).as_posix()])
    for n in (SYNCED, FAILED):
        answer(stage, mode="ui_sync_now", scene_id=stage.scene_id(n))
    wait_until(lambda: answer(stage, mode="ui_scene", scene_id=stage.scene_id(SYNCED))["state"] == "synced",
               90, interval=0.5, what="the synced scene")
    wait_until(lambda: answer(stage, mode="ui_scene", scene_id=stage.scene_id(FAILED))["state"] == "failed",
               90, interval=0.5, what="the failed scene")
    stage.plex.add_play(stage.rating_keys[SYNCED], viewed_at=int(time.time()) - 7200)
    stage.stash.wait_job(stage.stash.run_task("Import Plex plays"), 120)
    assert duplicate


def scene_shot(page, stage, n: int, state: str, out: Path) -> None:
    open_scene_panel(page, stage.stash.url, stage.scene_id(n))
    panel_in_state(page, state)
    page.wait_for_timeout(500)
    page.locator(".scene-tabs").screenshot(path=str(out))


def page_shot(page, stage, out: Path) -> None:
    open_in_app(page, stage.stash.url, "/plugin/plexsync", by_testid("plexsync-health-check"))
    page.click(by_testid("plexsync-health-check"))
    page.locator(f'{by_testid("plexsync-health-lines")} li').first.wait_for(timeout=60_000)
    page.wait_for_timeout(3_500)  # one more poll: counts after the check
    # The whole page at once, without full_page (which leaves Stash's fixed navbar mid-page)
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    page.wait_for_timeout(300)
    page.screenshot(path=str(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    opts = parser.parse_args(argv)
    reason = unavailable_reason() or browser_unavailable_reason()
    if reason:
        print(f"cannot render the pictures: {reason}")
        return 2
    opts.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="plexsync-shots-") as tmp, \
            running_stage(Path(tmp)) as stage, launch() as browser:
        prepare(stage)
        page = browser.new_context(viewport=VIEWPORT, device_scale_factor=1).new_page()
        scene_shot(page, stage, SYNCED, "synced", opts.out / "scene-panel-synced.png")
        scene_shot(page, stage, FAILED, "failed", opts.out / "scene-panel-failed.png")
        page_shot(page, stage, opts.out / "plexsync-page.png")
    for name in ("scene-panel-synced.png", "scene-panel-failed.png", "plexsync-page.png"):
        print(opts.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
