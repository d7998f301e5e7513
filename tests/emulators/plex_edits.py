"""What Plex does with `PUT /library/sections/{id}/all?type=1&id=...` and image uploads.

The parameter language is the one plexapi speaks (mixins/edit.py):
  `<field>.value=v`, `<field>.locked=1|0`        scalar fields and locks
  `<tag>[i].tag.tag=name`                        REPLACES the whole tag list (order = i)
  `<tag>[i].tag.thumb=url`                       thumb of that tag (Plex stores it per tag)
  `actor[i].tagging.text=role`                   role of that actor on this item
  `<tag>[].tag.tag-=a,b`                         removes names; each name is URL-quoted by
                                                 plexapi before the whole value is quoted again
A request is validated completely before anything changes, so a 400 leaves the item untouched.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import unquote

from tests.emulators.plex_model import SCALAR_FIELDS, TAG_KINDS, Image, Item
from tests.emulators.plex_state import PlexState


class EditError(ValueError):
    """The request is malformed; the server answers 400 with this text."""


LOCKABLE = set(SCALAR_FIELDS) | set(TAG_KINDS) | {"thumb", "art", "addedAt"}
_IGNORED = {"type", "id", "includeExternalMedia"}

_VALUE = re.compile(r"^(\w+)\.value$")
_LOCKED = re.compile(r"^(\w+)\.locked$")
_TAG = re.compile(r"^(\w+)\[(\d+)\]\.(tag\.tag|tag\.thumb|tagging\.text)$")
_REMOVE = re.compile(r"^(\w+)\[\]\.tag\.tag-$")


@dataclass
class EditPlan:
    values: dict = field(default_factory=dict)     # field -> typed value (None = clear)
    locks: dict = field(default_factory=dict)      # field or tag kind -> bool
    replace: dict = field(default_factory=dict)    # kind -> {index: {"tag", "thumb", "role"}}
    remove: dict = field(default_factory=dict)     # kind -> [name, ...]

    def is_empty(self) -> bool:
        return not (self.values or self.locks or self.replace or self.remove)


def parse_edit(pairs: list[tuple[str, str]]) -> EditPlan:
    """Query pairs (already URL-decoded once) -> EditPlan, or EditError naming the bad key."""
    plan = EditPlan()
    for key, value in pairs:
        if key in _IGNORED or key.startswith("X-Plex-"):
            continue
        if m := _VALUE.match(key):
            plan.values[_known(m[1], SCALAR_FIELDS.keys() | {"addedAt"})] = _typed(m[1], value)
        elif m := _LOCKED.match(key):
            plan.locks[_known(m[1], LOCKABLE)] = _flag(key, value)
        elif m := _TAG.match(key):
            kind, index, part = _known(m[1], TAG_KINDS), int(m[2]), m[3]
            if part == "tagging.text" and kind != "actor":
                raise EditError(f"{key}: only actors have a role")
            slot = plan.replace.setdefault(kind, {}).setdefault(index, {})
            slot[{"tag.tag": "tag", "tag.thumb": "thumb", "tagging.text": "role"}[part]] = value
        elif m := _REMOVE.match(key):
            names = [unquote(n) for n in value.split(",") if n != ""]
            plan.remove.setdefault(_known(m[1], TAG_KINDS), []).extend(names)
        else:
            raise EditError(f"unknown edit parameter {key!r}")
    for kind, slots in plan.replace.items():
        for index, slot in slots.items():
            if "tag" not in slot:
                raise EditError(f"{kind}[{index}] has a thumb or role but no tag.tag")
    return plan


def apply_edit(state: PlexState, item: Item, plan: EditPlan) -> None:
    for name, value in plan.values.items():
        if name == "addedAt":
            item.added_at = value
        elif value is None:
            item.attrs.pop(name, None)
        else:
            item.attrs[name] = value
    for kind, slots in plan.replace.items():
        names = []
        roles = {}
        for index in sorted(slots):
            slot = slots[index]
            name = slot["tag"]
            if name == "" or name in names:
                continue
            names.append(name)
            if "thumb" in slot:
                state.tag_thumbs[(kind, name)] = slot["thumb"]
            # The item's taggings are recreated: a role not sent again is gone.
            roles[name] = slot.get("role", "")
        item.tags[kind] = names
        if kind == "actor":
            item.roles = roles
    for kind, names in plan.remove.items():
        item.tags[kind] = [n for n in item.tags.get(kind, []) if n not in names]
        if kind == "actor":
            item.roles = {n: r for n, r in item.roles.items() if n not in names}
    for name, locked in plan.locks.items():
        (item.locks.add if locked else item.locks.discard)(name)
    state.touch(item)


def add_image(state: PlexState, item: Item, kind: str, data: bytes, source: str) -> Image:
    """Store an uploaded poster/background, select it, and lock the field like Plex does."""
    sha1 = hashlib.sha1(data).hexdigest()
    uri = f"upload://{kind}/{sha1}"
    image = next((im for im in item.images[kind] if im.uri == uri), None)
    if image is None:
        image = Image(uri, sha1, data, source)
        item.images[kind].append(image)
    select_image(state, item, kind, uri)
    return image


def select_image(state: PlexState, item: Item, kind: str, uri: str) -> None:
    if not any(im.uri == uri for im in item.images[kind]):
        raise EditError(f"no {kind[:-1]} {uri!r} for item {item.rating_key}")
    item.selected[kind] = uri
    attr = "thumb" if kind == "posters" else "art"
    setattr(item, attr, f"/library/metadata/{item.rating_key}/{attr}/{state.new_stamp()}")
    item.locks.add(attr)
    state.touch(item)


def _known(name: str, allowed) -> str:
    if name not in allowed:
        raise EditError(f"unknown field {name!r}")
    return name


def _flag(key: str, value: str) -> bool:
    if value not in ("0", "1"):
        raise EditError(f"{key} must be 0 or 1, got {value!r}")
    return value == "1"


def _typed(name: str, value: str):
    if value == "":
        return None if name != "addedAt" else _bad(name, value)
    kind = SCALAR_FIELDS.get(name, "int")
    try:
        if kind == "date":
            return date.fromisoformat(value).isoformat() if len(value) == 10 else _bad(name, value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError:
        _bad(name, value)
    return value


def _bad(name: str, value: str):
    raise EditError(f"invalid value for {name}: {value!r}")
