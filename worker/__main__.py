"""`python -m worker --background`: the detached drainer the hook starts (worker.background);
`python -m worker --watch-covers`: the cover watch a drainer starts (worker.cover_watch).

First, with nothing but os and fcntl loaded, it takes the drain lock: handed over by the
process that started it (hooks/drainer_launch.py), or taken now. Without the lock another
drainer runs or is starting, and this one exits before it pays for plexapi, pydantic and
sqlite3 (one drainer per burst of hooks; one "background sync started" line in drainer.log).

The hook needs only the standard library, so a Stash whose Python lacks plexapi & co. still
queues edits; the drainer is the first to notice. Nobody reads its stderr, so the missing
packages are left as the drain summary the next hook or task shows in Stash's log.
"""
import os
import sys

from hooks.drainer_launch import DRAINER_NICENESS
from sync_queue.lock import drainer_lock_at_start
from validation.data_dir import data_dir_path

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WATCHING_COVERS = "--watch-covers" in sys.argv[1:]  # its own lock (covers.lock), not this one

DRAIN_LOCK = None if WATCHING_COVERS else drainer_lock_at_start(data_dir_path(PLUGIN_DIR))
if DRAIN_LOCK is None and not WATCHING_COVERS:
    sys.exit(0)

# Background work yields the CPU to Stash and to the hook that just started us (2-core boxes);
# a hook lowers our priority before exec already (hooks/drainer_launch.py): no lower than that.
if hasattr(os, "nice") and os.nice(0) < DRAINER_NICENESS:
    os.nice(DRAINER_NICENESS - os.nice(0))

from hooks.dependencies import MissingDependency, ensure_worker_dependencies  # noqa: E402
from sync_queue.state import QueueState  # noqa: E402

try:
    ensure_worker_dependencies()
except MissingDependency as missing:
    QueueState(data_dir_path(PLUGIN_DIR)).store_drain_summary(str(missing), errors=True)
    sys.exit(1)

if WATCHING_COVERS:  # worker/cover_watch.py: no plexapi, nothing of Plex
    from worker.cover_watch import main as watch_covers  # noqa: E402
    sys.exit(watch_covers())

from worker.background import main  # noqa: E402 - only once its packages are known to import

sys.exit(main(lock=DRAIN_LOCK))
