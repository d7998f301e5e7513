"""`python -m worker --background`: the detached drainer the hook starts (worker.background);
`python -m worker --watch-covers`: the cover watch a drainer starts (worker.cover_watch).

The hook needs only the standard library, so a Stash whose Python lacks plexapi & co. still
queues edits; the drainer is the first to notice. Nobody reads its stderr, so the missing
packages are left as the drain summary the next hook or task shows in Stash's log.
"""
import os
import sys
from pathlib import Path

# Background work yields the CPU to Stash and to the hook that just started us (2-core boxes).
if hasattr(os, "nice"):
    os.nice(10)

from hooks.dependencies import MissingDependency, ensure_worker_dependencies
from sync_queue.state import QueueState
from validation.config import data_dir_for

try:
    ensure_worker_dependencies()
except MissingDependency as missing:
    QueueState(data_dir_for(Path(__file__).resolve().parent.parent)).store_drain_summary(
        str(missing), errors=True)
    sys.exit(1)

if "--watch-covers" in sys.argv[1:]:  # worker/cover_watch.py: no plexapi, nothing of Plex
    from worker.cover_watch import main  # noqa: E402
else:
    from worker.background import main  # noqa: E402 - only once its packages are known to import

sys.exit(main())
