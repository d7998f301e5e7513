"""Issue 10, item 3: settings stored by real Stash the way its settings page stores them, and
read back by PlexSync's own code (the request a task or hook sends) into the right values."""
from __future__ import annotations

from hooks.stash_api import StashClient
from tests.real_stash.conftest import LIBRARY_CLIPS, clip_path
from validation.config import SETTINGS, parse_config

SCENE_UPDATE = "mutation U($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }"


def plexsync_reads(stage) -> tuple[dict, object]:
    raw = StashClient(stage.stash.url).plugin_settings()
    return raw, parse_config(raw)


def test_settings_page_values_read_back_with_their_types(fresh_stage):
    stage = fresh_stage
    # The settings page sends the whole map: JSON booleans, JSON numbers, strings; a setting
    # the user never touched is not in the map at all.
    stage.stash.configure_plugin(stage.settings(
        strict_matching=False, verify_tls=True, max_tags=2, connect_timeout=2.5,
        plex_libraries="Stash Scenes, Other", sync_title=False))
    stored = stage.stash.plugin_settings()
    assert stored["strict_matching"] is False and stored["sync_title"] is False
    assert stored["max_tags"] == 2 and stored["connect_timeout"] == 2.5
    raw, cfg = plexsync_reads(stage)
    assert raw == stored
    assert "read_timeout" not in raw and "enabled" not in raw  # unset: absent, not null
    assert (cfg.strict_matching, cfg.verify_tls, cfg.sync_title) == (False, True, False)
    assert (cfg.max_tags, cfg.connect_timeout) == (2, 2.5)
    assert isinstance(cfg.max_tags, int)
    assert cfg.plex_libraries == ("Stash Scenes", "Other")
    assert cfg.path_map == ((str(stage.stash.media), "/plexdata"),)
    defaults = {s.name: s.default for s in SETTINGS}
    assert (cfg.read_timeout, cfg.enabled) == (defaults["read_timeout"], defaults["enabled"])


def test_settings_change_what_a_hook_syncs(fresh_stage):
    stage, stash = fresh_stage, fresh_stage.stash
    stash.configure_plugin(stage.settings(sync_title=False, max_tags=2))
    path = clip_path(stash.media, LIBRARY_CLIPS - 2)
    tags = [stash.graphql("mutation T($n: String!) { tagCreate(input: {name: $n}) { id } }",
                          {"n": f"Setting Tag {n}"})["tagCreate"]["id"] for n in range(3)]
    before = stage.plex_item(path)["title"]
    stash.graphql(SCENE_UPDATE, {"input": {"id": stage.scene_ids[str(path)],
                                           "title": "Not for Plex", "tag_ids": tags}})
    item = stage.wait_plex(path, lambda i: i["genres"], what="the tags in Plex")
    assert len(item["genres"]) == 2          # max_tags, a NUMBER setting
    assert item["title"] == before           # sync_title off, a BOOLEAN setting
