"""path_map sanity for the Health Check: do sample Stash files, mapped, exist in Plex?

A wrong path_map is the most common reason nothing syncs, and it is silent: every scene just
"is not in Plex". So sample scenes' files go through path_map and are looked up in the freshly
refreshed path index. For a miss whose file NAME Plex does have elsewhere, the differing
prefixes of the two paths are exactly the path_map entry that is missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from plex.index import PathIndex
from plex.matcher import plex_paths
from plex.paths import basename
from validation.config import Config
from validation.scene import snapshot_from_stash

SAMPLE_SIZE = 50
SHOWN_MISSES = 5


@dataclass
class PathSample:
    checked: int = 0
    found: int = 0
    missing: list = field(default_factory=list)  # (scene id, mapped Plex path)
    suggestions: dict = field(default_factory=dict)  # "stash => plex" -> how many misses it fixes


def sample_scenes(stash, size: int = SAMPLE_SIZE) -> list[dict]:
    return stash.find_scenes_page(1, size)[1]


def check_paths(scenes: list[dict], index: PathIndex, cfg: Config) -> PathSample:
    """Look each scene's mapped files up in the index (no Plex request)."""
    sample = PathSample()
    for scene in scenes:
        snapshot, _ = snapshot_from_stash(scene, cfg.max_tags)
        mapped = plex_paths(snapshot, cfg)
        if not mapped:
            continue  # a scene without a file cannot be matched by anyone
        sample.checked += 1
        if any(index.lookup(path) for path in mapped):
            sample.found += 1
            continue
        sample.missing.append((snapshot["id"], mapped[0]))
        for entry in index.lookup_basename(mapped[0])[:1]:
            pair = suggest_mapping(snapshot["files"][0], entry.file)
            if pair:
                sample.suggestions[pair] = sample.suggestions.get(pair, 0) + 1
    return sample


def suggest_mapping(stash_path: str, plex_path: str) -> str | None:
    """'stash prefix => plex prefix' turning one into the other (same trailing folders)."""
    stash_parts, plex_parts = _parts(stash_path), _parts(plex_path)
    common = 0
    while (common < min(len(stash_parts), len(plex_parts)) - 1
           and stash_parts[-1 - common] == plex_parts[-1 - common]):
        common += 1
    if common == 0 or basename(stash_path) != basename(plex_path):
        return None
    stash_prefix = _join(stash_path, stash_parts[:len(stash_parts) - common])
    plex_prefix = _join(plex_path, plex_parts[:len(plex_parts) - common])
    if not stash_prefix or not plex_prefix or stash_prefix == plex_prefix:
        return None
    return f"{stash_prefix} => {plex_prefix}"


def _parts(path: str) -> list[str]:
    return [p for p in path.replace("\\", "/").split("/") if p]


def _join(original: str, parts: list[str]) -> str:
    sep = "\\" if "\\" in original and "/" not in original else "/"
    lead = sep if original[:1] in "/\\" and not (parts and parts[0].endswith(":")) else ""
    return lead + sep.join(parts)


def describe(sample: PathSample) -> tuple[bool, str, str]:
    """(ok, line, fix) for the Health Check."""
    if not sample.checked:
        return True, "Path map: no Stash scene with a file to sample yet", ""
    line = f"Path map: {sample.found}/{sample.checked} sample scenes found in Plex"
    if not sample.missing:
        return True, line, ""
    missing = sorted(sample.missing, key=lambda m: (len(m[0]), m[0]))  # scene id order
    shown = "; ".join(f"scene {sid} → {path}" for sid, path in missing[:SHOWN_MISSES])
    more = len(sample.missing) - SHOWN_MISSES
    line += f"; {len(sample.missing)} not found: {shown}" + (f" (+{more} more)" if more > 0 else "")
    if sample.suggestions:
        best = max(sample.suggestions, key=sample.suggestions.get)
        fix = (f"Plex has these files under another folder: add '{best}' to the Path map setting "
               "(Stash prefix => Plex prefix)")
    else:
        fix = ("set Path map so Stash's paths become the paths Plex shows for the same files "
               "(Stash prefix => Plex prefix), or add their folders to a Plex library "
               "PlexSync matches in; scenes Plex is not meant to have can be ignored")
    return False, line, fix
