"""pytest fixtures and sample data for the Stash emulator (star-imported by tests/conftest.py).

  stash_factory  callable(**StashEmulator kwargs) -> a started emulator, stopped after the test
                 (e.g. stash_factory(api_key="k"), stash_factory(username="u", password="p"))
  stash_empty    started emulator without auth and without data
  stash_library  loads the sample library into it -> SampleLibrary(scenes, studios, ...)
  stash          the emulator with the sample library loaded (same object as stash_empty)

The sample scenes use the Plex small library's file paths, so end-to-end tests match them
with no path_map. Their timestamps are fixed in the past (SAMPLE_EPOCH + n hours); anything a
test changes is stamped "now". Teardown fails the test if a hook sink raised: the emulator
swallows sink errors as Stash swallows failing hooks, and a test must not pass because of it.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest

from tests.emulators.plex_library import (MULTI_FILES, PART_I_FILE, PART_II_FILE, RICH_FILE,
                                          SAME_NAME_MOVIES_FILE)
from tests.emulators.stash_server import StashEmulator
from tests.emulators.stash_state import make_png

__all__ = ["stash_factory", "stash_empty", "stash_library", "stash", "SampleLibrary",
           "load_sample_library", "png_data_url", "make_png", "SAMPLE_EPOCH", "PLUGIN_ID"]

PLUGIN_ID = "PlexSync"
SAMPLE_EPOCH = 1_714_564_800            # 2024-05-01T12:00:00Z

RICH_TAGS = ["Drama", "Rock, Pop", 'Say "Hi"', "Ünïcødé ✓", "Sci Fi"]

# slug -> add_scene arguments; ids follow this order (1, 2, ...) on a fresh emulator.
SAMPLE_SCENES = {
    "part1": dict(title="Saga Part I", files=[PART_I_FILE], date="2020-05-01",
                  details="The first part.", studio="Saga Films",
                  performers=["Ann Able", "Bob O'Brien"], tags=["Adventure", "Epic"],
                  groups=[("Saga", 1)], code="SAGA-1", director="Dee Rector",
                  urls=["https://example.com/saga-1"], rating100=80, cover=make_png("part1")),
    "part2": dict(title="Saga Part II", files=[PART_II_FILE], date="2021-06-02",
                  details="The second part.", studio="Saga Films", performers=["Ann Able"],
                  tags=["Adventure"], groups=[("Saga", 2)], cover=make_png("part2")),
    "multi": dict(title="Two Discs", files=MULTI_FILES, details="Spread over two files.",
                  tags=["Drama"]),                      # no cover: Stash serves its SVG
    "rich": dict(title="Rich Tags", files=[RICH_FILE], date="2021-12-24",
                 details="Many tags.\nSecond line.", studio="Big Studio",
                 performers=["Chloé Durand", "Eve 李"], tags=RICH_TAGS, organized=True,
                 cover=make_png("rich")),
    "untitled": dict(title="", files=[SAME_NAME_MOVIES_FILE]),   # Stash shows the basename
}


@dataclass(frozen=True)
class SampleLibrary:
    scenes: dict        # slug -> scene id
    studios: dict       # name -> id
    performers: dict    # name -> id
    tags: dict          # name -> id
    groups: dict        # name -> id


def load_sample_library(stash: StashEmulator) -> SampleLibrary:
    """The sample scenes plus a parent studio and performer images; returns their ids."""
    stamp = stash.timestamp
    parent = stash.add_studio("Saga Group")
    stash.add_studio("Saga Films", parent=parent)
    stash.add_performer("Ann Able", image=make_png("Ann Able", 2, 3))
    stash.add_performer("Eve 李", image=make_png("Eve", 2, 3))
    scenes = {}
    for n, (slug, fields) in enumerate(SAMPLE_SCENES.items()):
        when = stamp(SAMPLE_EPOCH + 3600 * n)
        scenes[slug] = stash.add_scene(**fields, created_at=when, updated_at=when)
    state = stash.state
    with state.lock:
        names = {kind: {o["name"]: i for i, o in state.table(kind).items()}
                 for kind in ("studio", "performer", "tag", "group")}
    return SampleLibrary(scenes, names["studio"], names["performer"], names["tag"], names["group"])


def png_data_url(image: bytes, mime: str = "image/png") -> str:
    """cover_image for sceneUpdate, as Stash's UI sends it."""
    return f"data:{mime};base64," + base64.b64encode(image).decode()


@pytest.fixture
def stash_factory():
    started: list[StashEmulator] = []

    def start(**kwargs) -> StashEmulator:
        emulator = StashEmulator(**kwargs).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()
    errors = [e for emulator in started for e in emulator.hook_errors]
    assert not errors, "a Stash hook sink raised:\n" + "\n".join(errors)


@pytest.fixture
def stash_empty(stash_factory) -> StashEmulator:
    return stash_factory()


@pytest.fixture
def stash_library(stash_empty) -> SampleLibrary:
    return load_sample_library(stash_empty)


@pytest.fixture
def stash(stash_empty, stash_library) -> StashEmulator:
    return stash_empty
