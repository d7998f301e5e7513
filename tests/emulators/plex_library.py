"""Libraries to load into the Plex emulator: a small hand-made one and a fast generator.

The small library holds the cases matching gets wrong in practice: "Part I" / "Part II", the
same basename in two folders (and two sections), a two-file item, tag names with commas,
quotes and non-ASCII, more tags than a list view shows, and text needing XML escaping.
Tests look items up by file path (`plex.find_by_file(...)`), as PlexSync does.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

MOVIES_LOCATION = "/data/movies"
OTHER_LOCATION = "/data/other"
BASE_EPOCH = 1_700_000_000                   # 2023-11-14; fixed so sort orders are stable

PART_I_FILE = f"{MOVIES_LOCATION}/Saga/Saga Part I.mkv"
PART_II_FILE = f"{MOVIES_LOCATION}/Saga/Saga Part II.mkv"
SAME_NAME_MOVIES_FILE = f"{MOVIES_LOCATION}/a/scene.mp4"
SAME_NAME_OTHER_FILE = f"{OTHER_LOCATION}/b/scene.mp4"
MULTI_FILES = [f"{MOVIES_LOCATION}/multi/cd1.mkv", f"{MOVIES_LOCATION}/multi/cd2.mkv"]
RICH_FILE = f"{MOVIES_LOCATION}/rich/Rich Tags (2021).mp4"
ESCAPING_FILE = f"{MOVIES_LOCATION}/odd/Quotes & <Brackets>.mkv"

RICH_GENRES = ["Drama", "Rock, Pop", 'Say "Hi"', "Ünïcødé ✓", "Sci Fi"]
RICH_ACTORS = [
    {"tag": "Ann Able", "role": "Herself", "thumb": "http://img.example/ann.jpg"},
    {"tag": "Bob O'Brien", "role": "Guide", "thumb": "http://img.example/bob.jpg"},
    {"tag": "Chloé Durand", "role": "", "thumb": None},
    {"tag": "Dan, Jr.", "role": "Cameo", "thumb": None},
    {"tag": "Eve 李", "role": "Lead", "thumb": "http://img.example/eve.jpg"},
]

# (section, slug, title, files, fields)
SMALL_LIBRARY = [
    ("movies", "part1", "Saga Part I", [PART_I_FILE],
     dict(summary="The first part.", studio="Saga Films", originallyAvailableAt="2020-05-01",
          genres=["Adventure"], actors=["Ann Able"])),
    ("movies", "part2", "Saga Part II", [PART_II_FILE],
     dict(summary="The second part.", studio="Saga Films", originallyAvailableAt="2021-06-02",
          genres=["Adventure"], actors=["Ann Able"])),
    ("movies", "same_a", "Scene", [SAME_NAME_MOVIES_FILE],
     dict(studio="Studio A", originallyAvailableAt="2019-01-31")),
    ("other", "same_b", "Scene", [SAME_NAME_OTHER_FILE],
     dict(studio="Studio B", originallyAvailableAt="2019-02-28")),
    ("movies", "multi", "Two Discs", MULTI_FILES,
     dict(summary="Spread over two files.", duration=5_400_000)),
    ("movies", "rich", "Rich Tags", [RICH_FILE],
     dict(summary="Many tags.\nSecond line.", studio="Big Studio", tagline="Tagged.",
          originallyAvailableAt="2021-12-24", contentRating="R", genres=RICH_GENRES,
          actors=RICH_ACTORS, collections=["Big Studio", "Parent Co"], labels=["fav"],
          directors=["Dee Rector"], locks=["title"])),
    ("movies", "escaping", 'Quotes "&" <Brackets>', [ESCAPING_FILE],
     dict(summary="Line one\nLine\ttwo & <three>", studio="A&B")),
]


@dataclass
class LoadedLibrary:
    sections: dict          # "movies" / "other" -> section id
    keys: dict              # slug -> ratingKey


def load_small_library(plex) -> LoadedLibrary:
    sections = {"movies": plex.add_section("Movies", location=MOVIES_LOCATION),
                "other": plex.add_section("Other Videos", location=OTHER_LOCATION)}
    keys = {}
    for n, (section, slug, title, files, fields) in enumerate(SMALL_LIBRARY):
        epoch = BASE_EPOCH + n * 3600
        keys[slug] = plex.add_item(sections[section], title, files=files, addedAt=epoch,
                                   updatedAt=epoch, **fields)
    return LoadedLibrary(sections, keys)


_GENRES = ["Drama", "Comedy", "Action", "Romance", "Documentary", "Thriller", "Music",
           "Sci Fi", "Horror", "Family", "Animation"]
_FIRST = ["Ann", "Bob", "Cleo", "Dan", "Eve", "Finn", "Gia", "Hal", "Ivy", "Jon", "Kai", "Lou"]
_LAST = ["Able", "Brook", "Cruz", "Dale", "Ennis", "Frost", "Gray", "Hale", "Irwin", "Jolie"]


def generated_rows(n: int, root: str = "/data/big", start_epoch: int = BASE_EPOCH):
    """n deterministic items as plain dicts (add_items vocabulary); cheap enough for 50,000.

    Item i: file `<root>/<i // 1000>/scene_<i>.mp4`, addedAt = start + 60 * i, updatedAt a
    little later for every 7th item, 3 genres, 4 actors, studio collection.
    """
    day0 = date(2015, 1, 1)
    dates = [(day0 + timedelta(days=d)).isoformat() for d in range(3650)]
    for i in range(n):
        studio = f"Studio {i % 97}"
        added = start_epoch + 60 * i
        yield {
            "title": f"Scene {i:06d}",
            "files": [f"{root}/{i // 1000:03d}/scene_{i:06d}.mp4"],
            "summary": f"Generated scene number {i}.",
            "studio": studio,
            "originallyAvailableAt": dates[i % 3650],
            "addedAt": added,
            "updatedAt": added + (3600 if i % 7 == 0 else 0),
            "duration": 600_000 + (i % 50) * 1000,
            "genres": [_GENRES[(i + k) % len(_GENRES)] for k in range(3)],
            "actors": [f"{_FIRST[(i + k) % 12]} {_LAST[(i * 7 + k) % 10]}" for k in range(4)],
            "collections": [studio],
        }


def load_generated_library(plex, n: int, title: str = "Big Library",
                           root: str = "/data/big") -> int:
    """A section with n generated items; returns the section id."""
    section = plex.add_section(title, location=root)
    plex.add_items(section, generated_rows(n, root))
    return section
