"""Remember each Stash's version in the data folder, so documents are adapted to it without
asking on every run.

The drainer and the tasks call remember_version(): the first run against a Stash asks
`version` once (which also stops a Stash older than v0.24 with one clear error) and writes
stash_version.json; later runs read it. A remembered version is a good first guess, not a
fact: Stash may have been upgraded or downgraded since, so a validation error still makes the
client ask again (StashClient.execute) and the answer replaces the remembered one.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from hooks.stash_api import StashClient, check_supported

VERSION_FILE = "stash_version.json"


def remember_version(stash: StashClient, data_dir, ask: bool = True) -> StashClient:
    """Give `stash` its Stash's version (remembered, else asked once when `ask`); returns it."""
    path = Path(data_dir) / VERSION_FILE
    known = _read(path)
    stash.on_version_learnt = lambda text: _write(path, {**_read(path), stash.base_url: text})
    text = known.get(stash.base_url)
    if text:
        stash.stash_version = check_supported(text)
        stash.version_known = False  # a guess until Stash confirms it by accepting a document
    elif ask:
        stash.learn_version()
    return stash


def _read(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _write(path: Path, value: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(value, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # only a cache: the next run asks again
        pass
