"""One line a Stash user can act on, for any failure that reaches the entry point."""
from __future__ import annotations

import sys
from pathlib import Path

_OURS = ("validation.", "hooks.", "sync_queue.", "worker.", "plex.", "PlexSync", "__main__")
_REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"


def describe_failure(exc: BaseException,
                     details: str = "turn on the Debug logging setting for details in Stash's log"
                     ) -> str:
    """The message for the user: our own errors already say what to fix; others get a hint."""
    if isinstance(exc, ImportError) and exc.name:
        package = exc.name.split(".")[0]
        return (f"PlexSync needs the Python package '{package}', which Stash's Python "
                f"({sys.executable}) does not have. Install it with: "
                f"{sys.executable} -m pip install -r \"{_REQUIREMENTS}\"")
    if type(exc).__module__.startswith(_OURS):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc} ({details})"
