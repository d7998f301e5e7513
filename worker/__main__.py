"""`python -m worker --background`: the detached drainer the hook starts (worker.background)."""
import sys

from worker.background import main

sys.exit(main())
