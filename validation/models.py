"""The pydantic model a job's snapshot must satisfy before anything is written to Plex.

The hook builds snapshots with stdlib code (validation/scene.py) to stay inside its time
budget; the worker re-validates here, so a snapshot from an older PlexSync version, a
hand-edited queue or a bug in the hook is dead-lettered with a readable reason instead of
reaching Plex half-formed.
"""
from __future__ import annotations

import datetime as _dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from validation.sanitize import SUMMARY_MAX, TAG_MAX, TITLE_MAX, clean_text


class Performer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    name: str = Field(min_length=1, max_length=TAG_MAX)
    image_url: str | None = None


class SyncMetadata(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1)
    title: str = Field(default="", max_length=TITLE_MAX)
    details: str = Field(default="", max_length=SUMMARY_MAX)
    date: str | None = None
    studio: str | None = Field(default=None, max_length=TAG_MAX)
    parent_studio: str | None = Field(default=None, max_length=TAG_MAX)
    performers: list[Performer] = []
    tags: list[str] = []
    groups: list[str] = []
    files: list[str] = Field(min_length=1)
    cover_url: str | None = None
    updated_at: str = ""

    @field_validator("title", "details")
    @classmethod
    def _already_clean(cls, value: str) -> str:
        if value != clean_text(value, len(value) + 1, multiline=True):
            raise ValueError("contains control characters")
        return value

    @field_validator("date")
    @classmethod
    def _calendar_date(cls, value: str | None) -> str | None:
        if value is not None:
            _dt.date.fromisoformat(value)
        return value

    @field_validator("tags", "groups")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        if any(not name or len(name) > TAG_MAX for name in value):
            raise ValueError("names must be 1 to 255 characters")
        return value

    def as_snapshot(self) -> dict:
        return self.model_dump()
