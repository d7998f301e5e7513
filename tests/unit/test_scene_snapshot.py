"""Stash scene JSON -> job snapshot, and the pydantic model the worker checks it with."""
import pydantic
import pytest

from validation.models import SyncMetadata
from validation.scene import snapshot_from_stash

SCENE = {
    "id": "42", "title": "Part II", "code": "X", "details": "Line 1\nLine 2", "director": None,
    "urls": [], "date": "2024-03-01", "updated_at": "2024-03-02T10:00:00+00:00",
    "studio": {"name": "Sub Studio", "parent_studio": {"name": "Network"}},
    "performers": [{"name": "Zoe", "image_path": "http://s:9999/performer/2/image?apikey=K"},
                   {"name": "Ann", "image_path": None}],
    "tags": [{"name": "tag b"}, {"name": "Tag A"}, {"name": "TAG B"}],
    "groups": [{"group": {"name": "Second"}, "scene_index": 2}, {"group": {"name": "First"}, "scene_index": 1}],
    "files": [{"path": "/data/a/Part II.mp4"}, {"path": "/data/b/alt.mkv"}],
    "paths": {"screenshot": "http://s:9999/scene/42/screenshot?t=1"},
}


def test_snapshot_shape_and_order():
    snap, warnings = snapshot_from_stash(SCENE, max_tags=100)
    assert warnings == []
    assert snap == {
        "id": "42", "title": "Part II", "details": "Line 1\nLine 2", "date": "2024-03-01",
        "studio": "Sub Studio", "parent_studio": "Network",
        "performers": [{"name": "Zoe", "image_url": "http://s:9999/performer/2/image"},
                       {"name": "Ann", "image_url": None}],
        "tags": ["tag b", "Tag A"], "groups": ["First", "Second"],
        "files": ["/data/a/Part II.mp4", "/data/b/alt.mkv"],
        "cover_url": "http://s:9999/scene/42/screenshot?t=1",
        "updated_at": "2024-03-02T10:00:00+00:00",
    }
    assert SyncMetadata.model_validate(snap).as_snapshot() == snap


def test_hostile_scene_is_sanitised_with_warnings():
    hostile = {**SCENE, "title": "\x00Evil\u202e title\x07", "details": "d" * 100_000,
               "date": "2023-13-45", "tags": [{"name": "t%d" % i} for i in range(300)]}
    snap, warnings = snapshot_from_stash(hostile, max_tags=100)
    assert snap["title"] == "Evil title" and snap["date"] is None
    assert len(snap["details"]) == 10_000 and len(snap["tags"]) == 100
    text = " | ".join(warnings)
    assert "date '2023-13-45' is not a valid date" in text and "details is 100000 characters" in text
    assert "title had control or hidden characters" in text
    SyncMetadata.model_validate(snap)


def test_scene_without_files_warns_and_fails_model():
    snap, warnings = snapshot_from_stash({"id": "7", "files": []}, max_tags=10)
    assert "has no file" in warnings[0]
    with pytest.raises(pydantic.ValidationError):
        SyncMetadata.model_validate(snap)


@pytest.mark.parametrize("bad", [
    {"date": "2023-02-30"}, {"title": "a\x00b"}, {"tags": [""]}, {"files": []}, {"id": ""},
])
def test_model_rejects_unsanitised_snapshots(bad):
    snap, _ = snapshot_from_stash(SCENE, max_tags=100)
    with pytest.raises(pydantic.ValidationError):
        SyncMetadata.model_validate({**snap, **bad})
