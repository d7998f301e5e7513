"""Stash path -> Plex path (path_map), and the comparison key under which paths are equal.

Stash and Plex often see one file under different names: Docker mounts (/data vs /media), a
Windows Plex (D:\\Videos) next to a Linux Stash, or a drive letter typed in another case.
Paths are compared component by component, so the prefix /data never matches /database.
Windows paths (drive letter or UNC) compare case-insensitively, as Windows itself does; POSIX
paths are case-sensitive. The mapped path keeps the file name exactly as Stash spelled it.
Unicode is compared in NFC: macOS and SMB hand out decomposed names (NFD, "e" + U+0301) where
Linux keeps what was written (usually NFC "é"), so the same file reaches PlexSync spelled two
ways; both sides, and path_map prefixes, are normalised before they are compared.
"""
from __future__ import annotations

import re
import unicodedata

_DRIVE = re.compile(r"^[A-Za-z]:$")


def _split(path: str) -> tuple[str, list[str], bool]:
    """(root, components, is_windows): root is '/', 'd:', '//' (UNC) or '' for a relative path."""
    text = path.strip()
    unc = text.startswith(("\\\\", "//"))
    parts = [p for p in re.split(r"[\\/]+", text) if p not in ("", ".")]
    if unc:
        return "//", parts, True
    if parts and _DRIVE.match(parts[0]):
        return parts[0].lower(), parts[1:], True
    return ("/" if text[:1] in ("/", "\\") else ""), parts, False


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def path_key(path: str) -> str:
    """The form two paths share exactly when they name the same file (index / comparison key)."""
    path = _nfc(path)
    if path[:1] == "/" and "\\" not in path and "//" not in path and "/." not in path:
        return path.rstrip("/") or "/"  # a plain POSIX path is its own key (the index's 50k case)
    root, parts, windows = _split(path)
    if root in ("/", "//"):
        key = root + "/".join(parts)
    else:
        key = "/".join([root, *parts]) if root else "/".join(parts)
    return key.casefold() if windows else key


def _components_key(root: str, parts: list[str], windows: bool) -> list[str]:
    keyed = [root, *map(_nfc, parts)]
    return [p.casefold() for p in keyed] if windows else keyed


def _prefix_length(path: str, prefix: str) -> int | None:
    """How many components of `path` the `prefix` covers, or None when it is not a prefix."""
    p_root, p_parts, p_win = _split(prefix)
    root, parts, win = _split(path)
    if p_root != root:
        return None
    # A prefix typed in Windows form compares case-insensitively even against a POSIX path.
    fold = p_win or win
    want = _components_key(p_root, p_parts, fold)
    have = _components_key(root, parts, fold)
    if have[: len(want)] != want:
        return None
    return len(p_parts)


def _uses_backslash(prefix: str) -> bool:
    return "\\" in prefix or (_DRIVE.match(prefix.strip()[:2]) is not None and "/" not in prefix)


def map_path(path: str, path_map: tuple[tuple[str, str], ...]) -> str:
    """Apply the longest matching path_map prefix; unmatched paths are returned unchanged."""
    best: tuple[int, str] | None = None  # (components the prefix covers, plex prefix)
    for stash_prefix, plex_prefix in path_map:
        covered = _prefix_length(path, stash_prefix)
        # Longest prefix wins, whatever order the user typed the pairs in.
        if covered is not None and (best is None or covered > best[0]):
            best = (covered, plex_prefix)
    if best is None:
        return path
    covered, plex_prefix = best
    rest = _split(path)[1][covered:]
    sep = "\\" if _uses_backslash(plex_prefix) else "/"
    head = plex_prefix.rstrip("\\/")
    if not rest:
        return head or sep
    return head + sep + sep.join(rest)


def is_under(path: str, folder: str) -> bool:
    """True when `path` is `folder` itself or inside it (whole components only)."""
    return _prefix_length(path, folder) is not None


def parent_folder(path: str) -> str:
    """The folder holding `path`, in the path's own separator style (for a Plex partial scan)."""
    cut = max(path.rfind("/"), path.rfind("\\"))
    if cut <= 0:
        return path[:1] if cut == 0 else ""
    folder = path[:cut]
    return folder + "\\" if _DRIVE.match(folder) else folder


def basename(path: str) -> str:
    """The file name, whichever separator the path uses."""
    return path.replace("\\", "/").rstrip("/").rpartition("/")[2]


def basename_key(path: str) -> str:
    """The file name as the name-only fallback compares it (any case, NFC)."""
    return _nfc(basename(path)).casefold()
