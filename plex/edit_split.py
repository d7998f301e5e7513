"""Fit one item's edit into PUTs whose URL a proxy accepts: pure, so every rule is a value table.

Plex reads edit fields from the URL only (plexapi and Plex Web never send a body), and nginx,
a common proxy in front of Plex, answers 414 when the request line passes 8 KB. A 30 KB CJK
summary cannot travel whole through such a proxy, so the edit is split by FIELD:
- a field's value and its lock go in the same PUT (never a value without its lock);
- a tag list goes whole in one PUT, because Plex replaces the item's whole list with the list
  of each PUT (two halves in two PUTs would leave only the second half);
- as few PUTs as possible (exact packing; an edit has at most a handful of fields);
- a field that cannot fit even alone is cut: a text to its longest beginning that fits (at a
  character boundary, percent-encoding counted exactly, marked with "…"), a tag list to its
  first names that fit, a removal list into several removal PUTs (removals do not replace).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from itertools import accumulate
from urllib.parse import quote

ELLIPSIS = "…"
_INDEXED = re.compile(r"^(\w+)\[(\d+)\]\.")


@dataclass(frozen=True)
class Split:
    puts: tuple[dict, ...]  # the params of each PUT, in order (without type/id)
    cut: dict = field(default_factory=dict)  # Plex field -> what was sent instead of it all


def pair_length(key: str, value) -> int:
    """Bytes `&key=value` adds to the URL (plexapi's joinArgs quotes each value, safe='')."""
    return 2 + len(key) + len(quote(str(value), safe=""))


def field_of(key: str) -> str:
    """`title.value` -> title, `genre[3].tag.tag` -> genre, `genre[].tag.tag-` -> genre."""
    return re.split(r"[.\[]", key, maxsplit=1)[0]


def split_edits(params: dict, budget: int) -> Split:
    """Params of one edit -> the fewest PUTs each adding at most `budget` bytes of query
    (`budget` = the longest URL the server takes minus the path and the type/id pairs)."""
    groups: dict[str, dict] = {}
    for key, value in params.items():
        groups.setdefault(field_of(key), {})[key] = value
    units, cut = [], {}
    for name, group in groups.items():
        if _size(group) <= budget:
            units.append(group)
            continue
        fitted, sent = _shrink(name, group, budget)
        units.extend(fitted)
        if sent is not None:  # a removal list split in several PUTs still removes every name
            cut[name] = sent
    return Split(tuple(_pack(units, budget)), cut)


def _size(group: dict) -> int:
    return sum(pair_length(k, v) for k, v in group.items())


def _shrink(name: str, group: dict, budget: int) -> tuple[list[dict], object]:
    """A group too long for one PUT -> the groups to send instead, and what they carry."""
    value_key = f"{name}.value"
    removal_key = f"{name}[].tag.tag-"
    if value_key in group:
        rest = {k: v for k, v in group.items() if k != value_key}
        room = budget - _size(rest) - pair_length(value_key, "")
        text = longest_beginning(str(group[value_key]), room)
        # Nothing fits: send nothing of the field; an empty value would ERASE Plex's text.
        return ([{value_key: text, **rest}] if text else []), text
    if removal_key in group:  # each removal PUT removes its names; together they remove all
        rest = {k: v for k, v in group.items() if k != removal_key}
        names, chunks, chunk = group[removal_key].split(","), [], []
        room = budget - _size(rest) - pair_length(removal_key, "")
        for quoted in names:
            if chunk and len(quote(",".join([*chunk, quoted]), safe="")) > room:
                chunks.append(chunk)
                chunk = []
            chunk.append(quoted)
        chunks.append(chunk)
        return [{removal_key: ",".join(c), **rest} for c in chunks], None
    # A replacing tag list: keep its first names (with their thumbs) that fit in one PUT.
    fixed = {k: v for k, v in group.items() if not _INDEXED.match(k)}
    room = budget - _size(fixed)
    kept: dict = {}
    for index in sorted({int(_INDEXED.match(k)[2]) for k in group if _INDEXED.match(k)}):
        entry = {k: v for k, v in group.items() if (m := _INDEXED.match(k)) and int(m[2]) == index}
        if _size(entry) > room:
            break
        kept.update(entry)
        room -= _size(entry)
    names = [v for k, v in kept.items() if k.endswith(".tag.tag")]
    return [{**kept, **fixed}], names


def longest_beginning(text: str, room: int) -> str:
    """The longest beginning of `text`, plus "…", whose quoted form takes at most `room`
    bytes; cut between characters, never inside one or before a combining mark."""
    mark = len(quote(ELLIPSIS, safe=""))
    if len(quote(text, safe="")) <= room:
        return text
    costs = list(accumulate(len(quote(ch, safe="")) for ch in text))
    n = 0
    while n < len(costs) and costs[n] + mark <= room:
        n += 1
    while 0 < n < len(text) and unicodedata.combining(text[n]):
        n -= 1  # keep a letter together with its accent
    return (text[:n].rstrip() + ELLIPSIS) if n else ""


def _pack(units: list[dict], budget: int) -> list[dict]:
    """Fewest bins of `budget` holding every unit: exact search (an edit has a handful of
    fields), first-fit decreasing when there are many (long removal lists)."""
    sizes = [_size(u) for u in units]
    order = sorted(range(len(units)), key=lambda i: -sizes[i])
    if len(units) > 12:
        bins: list[list[int]] = []
        for i in order:
            home = next((b for b in bins if sum(sizes[j] for j in b) + sizes[i] <= budget), None)
            (home.append(i) if home is not None else bins.append([i]))
        return [_merge(units, b) for b in bins]
    best: list[list[int]] = [[i] for i in order]

    def place(k: int, bins: list[list[int]], loads: list[int]) -> None:
        nonlocal best
        if len(bins) >= len(best):
            return
        if k == len(order):
            best = [list(b) for b in bins]
            return
        i = order[k]
        for b, load in enumerate(loads):
            if load + sizes[i] <= budget:
                bins[b].append(i)
                loads[b] += sizes[i]
                place(k + 1, bins, loads)
                loads[b] -= sizes[i]
                bins[b].pop()
        bins.append([i])
        loads.append(sizes[i])
        place(k + 1, bins, loads)
        bins.pop()
        loads.pop()

    place(0, [], [])
    return [_merge(units, sorted(b)) for b in sorted(best, key=min)]


def _merge(units: list[dict], indexes: list[int]) -> dict:
    merged: dict = {}
    for i in indexes:
        merged.update(units[i])
    return merged
