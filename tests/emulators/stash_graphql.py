"""GraphQL resolvers of the Stash emulator: the SDL subset bound to StashState.

Resolvers find the emulator in `info.context["emulator"]` and the base URL Stash would build
image links from (scheme + Host header, or X-Forwarded-*) in `info.context["base_url"]`, so
one schema object serves every emulator instance. Update semantics follow Stash v0.30.1's
sceneUpdate / bulkSceneUpdate resolvers: strings trimmed, explicit null clears, id lists
replaced (single edit) or SET / ADD / REMOVE (bulk), everything validated before anything is
written, updated_at bumped on every edit, hooks fired after the write and before the answer.
"""
from __future__ import annotations

import copy
from pathlib import Path

from graphql import build_schema

from tests.emulators.stash_state import (StashState, StashStateError, decode_data_url,
                                         natural_key, paginate, parse_stash_date, to_int_id,
                                         unique)

SCHEMA_PATH = Path(__file__).with_name("stash_schema.graphql")
SCHEMA = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))

UPDATE_POST = "Scene.Update.Post"


# ---- output views (plain dicts; graphql-core's default resolver reads their keys) ----------

def scene_view(state: StashState, scene: dict, base_url: str) -> dict:
    tags = sorted((state.tags[t] for t in scene["tag_ids"]), key=lambda t: natural_key(t["name"]))
    return {
        **{k: scene[k] for k in ("title", "code", "details", "director", "date", "rating100",
                                 "organized", "created_at", "updated_at")},
        "id": str(scene["id"]), "urls": list(scene["urls"]),
        # Play state as Stash keeps it: history newest first, count and last play derived.
        "play_history": sorted(scene.get("play_history", []), key=state.unix, reverse=True),
        "play_count": len(scene.get("play_history", [])),
        "last_played_at": max(scene.get("play_history", []), key=state.unix, default=None),
        "resume_time": scene.get("resume_time"),
        "files": [{**f, "id": str(f["id"])} for f in scene["files"]],
        "paths": {"screenshot": f"{base_url}/scene/{scene['id']}/screenshot"
                                f"?t={state.unix(scene['updated_at'])}"},
        "studio": studio_view(state, scene["studio_id"]),
        "groups": [{"group": named_view(state.groups[g]), "scene_index": index}
                   for g, index in scene["groups"]],
        "movies": [{"movie": named_view(state.groups[g]), "scene_index": index}
                   for g, index in scene["groups"]],
        "tags": [named_view(t) for t in tags],
        "performers": [performer_view(state, state.performers[p], base_url)
                       for p in scene["performer_ids"]],
    }


def studio_view(state: StashState, studio_id: int | None) -> dict | None:
    if studio_id is None:
        return None
    studio = state.studios[studio_id]
    return {**named_view(studio), "parent_studio": studio_view(state, studio.get("parent_id"))}


def performer_view(state: StashState, performer: dict, base_url: str) -> dict:
    url = f"{base_url}/performer/{performer['id']}/image?t={state.unix(performer['updated_at'])}"
    return {**named_view(performer), "disambiguation": performer.get("disambiguation"),
            "image_path": url if performer.get("image") else url + "&default=true"}


def named_view(obj: dict) -> dict:
    return {"id": str(obj["id"]), "name": obj["name"]}


# ---- queries ----------------------------------------------------------------------------

def _ctx(info):
    return info.context["emulator"], info.context["emulator"].state, info.context["base_url"]


def resolve_find_scene(_root, info, id=None, checksum=None):
    _emu, state, base = _ctx(info)
    if id is None:
        return None  # no checksums in the emulator: a checksum lookup finds nothing
    with state.lock:
        scene = state.scenes.get(to_int_id(id))
        return scene_view(state, scene, base) if scene else None


def resolve_find_scenes(_root, info, scene_filter=None, ids=None, filter=None):
    _emu, state, base = _ctx(info)
    with state.lock:
        if ids:  # FindMany: the filter is ignored and one missing id fails the whole query
            scene_ids = [to_int_id(i, "ids") for i in ids]
            for scene_id in scene_ids:
                if scene_id not in state.scenes:
                    raise StashStateError(f"scene with id {scene_id} not found")
            count = len(scene_ids)
        else:
            count, scene_ids = state.find_scene_ids(scene_filter, filter)
        scenes = [state.scenes[i] for i in scene_ids]
        primaries = [s["files"][0] for s in scenes if s["files"]]
        return {"count": count, "scenes": [scene_view(state, s, base) for s in scenes],
                "duration": float(sum(f["duration"] for f in primaries)),
                "filesize": float(sum(f["size"] for f in primaries))}


def _finder(kind: str, result_key: str):
    def resolve(_root, info, filter=None, ids=None):
        _emu, state, base = _ctx(info)
        with state.lock:
            table = state.table(kind)
            if ids:
                items = [table[i] for i in state.require(kind, ids)]
                count = len(items)
            else:
                query = ((filter or {}).get("q") or "").casefold()
                items = [o for _, o in sorted(table.items()) if query in o["name"].casefold()]
                sort = (filter or {}).get("sort")
                if sort in ("name", "id"):
                    items.sort(key=lambda o: natural_key(o["name"]) if sort == "name" else o["id"],
                               reverse=(filter or {}).get("direction") == "DESC")
                elif sort:
                    raise StashStateError(f"the Stash emulator does not implement sort '{sort}'")
                count, items = len(items), paginate(items, filter or {})
            view = {"studio": lambda o: studio_view(state, o["id"]),
                    "performer": lambda o: performer_view(state, o, base)}.get(kind, named_view)
            return {"count": count, result_key: [view(o) for o in items]}
    return resolve


def resolve_configuration(_root, info):
    emu, _state, _base = _ctx(info)
    return {"general": {"apiKey": emu.api_key or ""}}


def resolve_plugins(_root, info, include=None):
    _emu, state, _base = _ctx(info)
    with state.lock:
        return state.plugins(include)


def resolve_job_queue(_root, info):
    _emu, state, _base = _ctx(info)
    with state.lock:
        return [dict(job) for job in state.jobs] or None  # Stash's nil slice: null, not []


def resolve_version(_root, info):
    return dict(info.context["emulator"].version)


# ---- mutations --------------------------------------------------------------------------

def resolve_scene_update(_root, info, input):
    emu, state, base = _ctx(info)
    with state.lock:
        scene_id = _existing_scene(state, input["id"])
        changes = _common_changes(state, input)
        scene = state.scenes[scene_id]
        for key, kind in (("performer_ids", "performer"), ("tag_ids", "tag")):
            if key in input:
                changes[key] = unique(state.require(kind, input[key] or []))
        if "gallery_ids" in input:
            changes["gallery_ids"] = [to_int_id(i, "gallery ids") for i in input["gallery_ids"] or []]
        if "groups" in input or "movies" in input:
            key, id_key = ("groups", "group_id") if "groups" in input else ("movies", "movie_id")
            entries = input[key] or []
            group_ids = state.require("group", [e[id_key] for e in entries])
            changes["groups"] = [(g, e.get("scene_index")) for g, e in zip(group_ids, entries)]
        if "urls" in input or "url" in input:
            changes["urls"] = (list(input["urls"] or []) if "urls" in input
                               else [input["url"]] if input["url"] else [])
        for key in ("resume_time", "play_duration"):
            if input.get(key) is not None:
                changes[key] = input[key]
        if "stash_ids" in input:
            changes["stash_ids"] = [dict(s) for s in input["stash_ids"] or []]
        if input.get("primary_file_id") is not None:
            changes["files"] = _primary_first(scene, to_int_id(input["primary_file_id"], "primary file id"))
        if input.get("cover_image") is not None:
            changes["cover"] = decode_data_url(input["cover_image"])
        if changes.get("title") == "" and not scene["files"]:
            raise StashStateError("title must be set if scene has no files")
        _write(state, scene_id, changes)
    emu.fire_hook(UPDATE_POST, scene_id, copy.deepcopy(input), list(input))
    with state.lock:  # Stash re-reads the scene after its hooks ran
        scene = state.scenes.get(scene_id)
        return scene_view(state, scene, base) if scene else None


def resolve_bulk_scene_update(_root, info, input):
    emu, state, base = _ctx(info)
    with state.lock:
        scene_ids = [_existing_scene(state, i) for i in input.get("ids") or []]
        common = _common_changes(state, input)
        per_scene = {}
        for scene_id in scene_ids:
            scene, changes = state.scenes[scene_id], dict(common)
            for key, kind in (("performer_ids", "performer"), ("tag_ids", "tag")):
                if input.get(key) is not None:
                    changes[key] = _bulk_ids(scene[key], input[key], state.require(kind, input[key]["ids"] or []))
            group_key = "group_ids" if "group_ids" in input else "movie_ids"
            if input.get(group_key) is not None:
                wanted = state.require("group", input[group_key]["ids"] or [])
                kept = _bulk_ids([g for g, _ in scene["groups"]], input[group_key], wanted)
                index = dict(scene["groups"])
                changes["groups"] = [(g, index.get(g)) for g in kept]
            if input.get("urls") is not None:
                changes["urls"] = _bulk_ids(scene["urls"], input["urls"], list(input["urls"]["values"] or []))
            elif input.get("url") is not None:
                changes["urls"] = [input["url"]]
            per_scene[scene_id] = changes
        for scene_id, changes in per_scene.items():  # one transaction: all or nothing
            _write(state, scene_id, changes)
    for scene_id in scene_ids:  # then one hook per scene, in order, each with the same input
        emu.fire_hook(UPDATE_POST, scene_id, copy.deepcopy(input), list(input))
    with state.lock:
        return [scene_view(state, state.scenes[i], base) for i in scene_ids if i in state.scenes]


def resolve_configure_plugin(_root, info, plugin_id, input):
    _emu, state, _base = _ctx(info)
    with state.lock:
        return state.configure_plugin(plugin_id, input)


def resolve_scene_add_play(_root, info, id, times=None):
    """Stash v0.30.1: one play per time (none given = now); fires no hook; updated_at kept."""
    _emu, state, _base = _ctx(info)
    with state.lock:
        scene = state.scenes[_existing_scene(state, id)]
        stamps = [state.timestamp(state.unix(t)) for t in times] if times else [state.timestamp()]
        scene.setdefault("play_history", []).extend(stamps)
        history = sorted(scene["play_history"], key=state.unix, reverse=True)
        return {"count": len(history), "history": history}


def resolve_scene_increment_play_count(_root, info, id):
    """What Stash before v0.25 offered: one more play, at 'now', no time of the caller's."""
    return resolve_scene_add_play(_root, info, id)["count"]


def resolve_scene_save_activity(_root, info, id, resume_time=None, playDuration=None):
    """Stash v0.30.1: stores the resume point; fires no hook; updated_at kept."""
    _emu, state, _base = _ctx(info)
    with state.lock:
        scene = state.scenes[_existing_scene(state, id)]
        if resume_time is not None:
            scene["resume_time"] = resume_time
        if playDuration is not None:
            scene["play_duration"] = scene.get("play_duration", 0.0) + playDuration
        return True


def _existing_scene(state: StashState, raw_id) -> int:
    scene_id = to_int_id(raw_id)
    if scene_id not in state.scenes:
        raise StashStateError(f"scene with id {scene_id} not found")
    return scene_id


def _common_changes(state: StashState, input: dict) -> dict:
    """The scalar fields SceneUpdateInput and BulkSceneUpdateInput share."""
    changes = {}
    for key in ("title", "code", "details", "director"):
        if key in input:
            changes[key] = (input[key] or "").strip()
    if "rating100" in input:
        changes["rating100"] = input["rating100"]
    if input.get("organized") is not None:
        changes["organized"] = input["organized"]
    if "date" in input:
        changes["date"] = parse_stash_date(input["date"]) if input["date"] else None
    if "studio_id" in input:
        changes["studio_id"] = (None if input["studio_id"] is None
                                else state.require("studio", [input["studio_id"]])[0])
    return changes


def _bulk_ids(current: list, update: dict, values: list) -> list:
    mode = update["mode"]
    if mode == "SET":
        return unique(values)
    if mode == "ADD":
        return unique(list(current) + list(values))
    return [v for v in current if v not in values]


def _primary_first(scene: dict, file_id: int) -> list:
    chosen = [f for f in scene["files"] if f["id"] == file_id]
    if not chosen:
        raise StashStateError(f"file with id {file_id} not associated with scene")
    return chosen + [f for f in scene["files"] if f["id"] != file_id]


def _write(state: StashState, scene_id: int, changes: dict) -> None:
    scene = state.scenes[scene_id]
    scene.update(changes)
    scene["updated_at"] = state.timestamp()


def _bind() -> None:
    query, mutation = SCHEMA.query_type.fields, SCHEMA.mutation_type.fields
    query["findScene"].resolve = resolve_find_scene
    query["findScenes"].resolve = resolve_find_scenes
    query["findStudios"].resolve = _finder("studio", "studios")
    query["findTags"].resolve = _finder("tag", "tags")
    query["findPerformers"].resolve = _finder("performer", "performers")
    query["findGroups"].resolve = _finder("group", "groups")
    query["configuration"].resolve = resolve_configuration
    query["jobQueue"].resolve = resolve_job_queue
    query["version"].resolve = resolve_version
    SCHEMA.get_type("ConfigResult").fields["plugins"].resolve = resolve_plugins
    mutation["sceneUpdate"].resolve = resolve_scene_update
    mutation["bulkSceneUpdate"].resolve = resolve_bulk_scene_update
    mutation["configurePlugin"].resolve = resolve_configure_plugin
    mutation["sceneAddPlay"].resolve = resolve_scene_add_play
    mutation["sceneSaveActivity"].resolve = resolve_scene_save_activity
    mutation["sceneIncrementPlayCount"].resolve = resolve_scene_increment_play_count


_bind()
