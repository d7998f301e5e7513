"""Every GraphQL document PlexSync sends to Stash, and how each is adapted per Stash version.

Every document is written for the newest Stash and valid from v0.24.0 (MINIMUM_STASH) on after
adapt_document(); a document that exists only in newer Stash versions is listed in
DOCUMENT_MIN_STASH. Module constants ending in _QUERY or _MUTATION, plus documents_for_tests(),
are validated against every Stash schema by the tests. Strings only: no I/O, stdlib `re`.
"""
from __future__ import annotations

import re

MINIMUM_STASH = (0, 24, 0)
GROUPS_SINCE = (0, 27, 0)           # Scene.groups; before: Scene.movies { movie scene_index }
PLUGIN_INCLUDE_IDS_SINCE = (0, 25, 0)  # configuration.plugins(include: [ID!]); v0.24: [String!]
# Documents only some supported Stash versions have: constant name -> first version with it.
DOCUMENT_MIN_STASH: dict[str, tuple[int, int, int]] = {}

GROUPS_SELECTION = "groups { group { name } scene_index }"
MOVIES_SELECTION = "movies { movie { name } scene_index }"

SCENE_FIELDS = """
fragment PlexSyncScene on Scene {
  id title code details director urls date updated_at
  studio { name parent_studio { name } }
  performers { name image_path }
  tags { name }
  """ + GROUPS_SELECTION + """
  files { path }
  paths { screenshot }
}
"""


def adapt_document(document: str, version: tuple | None) -> str:
    """The document as the Stash of `version` accepts it (None: the newest form)."""
    if version is None:
        return document
    if version < GROUPS_SINCE:
        document = document.replace(GROUPS_SELECTION, MOVIES_SELECTION)
    if version < PLUGIN_INCLUDE_IDS_SINCE:
        document = document.replace("$plugin: [ID!]", "$plugin: [String!]")
    return document


def scenes_document(count: int) -> str:
    """`count` scenes in ONE round trip (the drainer reading what the hooks noted).

    One aliased findScene per id rather than findScenes(ids:), because Stash fails the whole
    findScenes query when one id no longer exists (an edit racing a delete), while findScene
    answers null for just that scene.
    """
    params = "".join(f", $id{n}: ID" for n in range(count))
    scenes = "\n".join(f"  s{n}: findScene(id: $id{n}) {{ ...PlexSyncScene }}" for n in range(count))
    return f"query PlexSyncScenes({params[2:]}) {{\n{scenes}\n}}\n" + SCENE_FIELDS


# The single-scene form, validated against Stash's schemas with the other documents.
SCENES_QUERY = scenes_document(1)

SETTINGS_QUERY = """
query PlexSyncSettings($plugin: [ID!]) {
  configuration { plugins(include: $plugin) }
}
"""

FIND_SCENES_QUERY = """
query PlexSyncFindScenes($filter: FindFilterType, $scene_filter: SceneFilterType) {
  findScenes(filter: $filter, scene_filter: $scene_filter) { count scenes { ...PlexSyncScene } }
}
""" + SCENE_FIELDS

# Asked by the drainer, not the hook: a scene whose file Plex lacks may have been deleted.
SCENE_EXISTS_QUERY = """
query PlexSyncSceneExists($id: ID!) { findScene(id: $id) { id } }
"""

VERSION_QUERY = """
query PlexSyncStashVersion { version { version } }
"""

# ---- Plex -> Stash: plays, resume points, ratings (worker/tasks/import_plays.py) -----------
# Not on the hook path; none of these writes queues a Plex sync: sceneAddPlay and
# sceneSaveActivity fire no hook, and sceneUpdate(rating100) touches no synced input field.
PLAY_STATE_FIELDS = "id play_count play_history last_played_at resume_time rating100"
# Stash before v0.25 has no play_history (and no sceneAddPlay): the legacy variant.
LEGACY_PLAY_STATE_FIELDS = "id play_count last_played_at resume_time rating100"
ADD_PLAY_SINCE = (0, 25, 0)


def play_state_document(count: int, legacy: bool = False) -> str:
    """`count` scenes' play state in one request (aliased findScene: a deleted scene is null)."""
    fields = LEGACY_PLAY_STATE_FIELDS if legacy else PLAY_STATE_FIELDS
    params = ", ".join(f"$id{n}: ID" for n in range(count))
    scenes = "\n".join(f"  s{n}: findScene(id: $id{n}) {{ {fields} }}" for n in range(count))
    return f"query PlexSyncPlayState({params}) {{\n{scenes}\n}}\n"


PLAY_STATE_QUERY = play_state_document(1)

def add_plays_document(count: int) -> str:
    """Plays for `count` scenes in one request (aliased; Stash runs them one after another)."""
    params = ", ".join(f"$id{n}: ID!, $times{n}: [Timestamp!]" for n in range(count))
    calls = "\n".join(f"  p{n}: sceneAddPlay(id: $id{n}, times: $times{n}) {{ count }}"
                      for n in range(count))
    return f"mutation PlexSyncAddPlays({params}) {{\n{calls}\n}}\n"


SCENE_ADD_PLAY_MUTATION = add_plays_document(1)

SCENE_SAVE_RESUME_MUTATION = """
mutation PlexSyncSaveResume($id: ID!, $resume_time: Float) {
  sceneSaveActivity(id: $id, resume_time: $resume_time)
}
"""

SCENE_RATING_MUTATION = """
mutation PlexSyncSetRating($input: SceneUpdateInput!) {
  sceneUpdate(input: $input) { id rating100 }
}
"""

# play_history and sceneAddPlay exist from v0.25; older Stash gets the legacy variants.
DOCUMENT_MIN_STASH.update(PLAY_STATE_QUERY=(0, 25, 0), SCENE_ADD_PLAY_MUTATION=(0, 25, 0))

# Stash v0.24 only (deprecated from v0.25, so not a *_MUTATION: the conformance tests check
# documents against the newest Stash; tests/plays/test_play_import.py checks it against v0.24.3).
LEGACY_INCREMENT_PLAY_DOCUMENT = """
mutation PlexSyncIncrementPlays($id: ID!) { sceneIncrementPlayCount(id: $id) }
"""


def cover_state_document(ranges: int) -> str:
    """Which scenes of `ranges` id ranges still lack a cover, and whether Stash runs a job,
    in ONE request (worker.cover_watch). `is_missing: "cover"` is Stash's own test (no cover
    image stored); a filter by id range, because findScenes(ids:) ignores scene_filter."""
    params = ", ".join(f"$lo{n}: Int!, $hi{n}: Int!" for n in range(ranges))
    finds = "\n".join(
        f'  r{n}: findScenes(scene_filter: {{is_missing: "cover", id: {{value: $lo{n}, '
        f'value2: $hi{n}, modifier: BETWEEN}}}}, filter: {{per_page: -1}}) {{ scenes {{ id }} }}'
        for n in range(ranges))
    return f"query PlexSyncCoverState({params}) {{\n  jobQueue {{ id }}\n{finds}\n}}\n"


COVER_STATE_QUERY = cover_state_document(1)


def parse_version(text: str | None) -> tuple[int, int, int] | None:
    """(0, 30, 1) from 'v0.30.1-19-gcf3489efd'; None when Stash reports no release number."""
    match = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", (text or "").strip())
    return (int(match[1]), int(match[2]), int(match[3] or 0)) if match else None


def has_add_play(version: str | None) -> bool:
    """Whether this Stash has sceneAddPlay and play_history (an unreadable version: newest)."""
    parsed = parse_version(version)
    return parsed is None or parsed >= ADD_PLAY_SINCE


def documents_for_tests() -> dict[str, str]:
    """Generated documents the schema tests check besides the module constants."""
    return {**{f"scenes_document({n})": scenes_document(n) for n in (1, 2, 50)},
            "play_state_document(2, legacy=True)": play_state_document(2, legacy=True),
            "cover_state_document(3)": cover_state_document(3)}
