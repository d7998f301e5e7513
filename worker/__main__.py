"""`python -m worker --background`: the detached drainer the hook starts (worker.background).

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

from worker.background import main  # noqa: E402 - only once its packages are known to import

sys.exit(main())
