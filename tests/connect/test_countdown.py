"""plex-login's countdown, with an injected clock: redrawn each second on a terminal, the
first line and then one a minute in a pipe (a log file must not get 1,800 lines)."""
from __future__ import annotations

import io

from worker.tasks.connect.terminal import Countdown


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_pipe_the_first_line_then_one_a_minute():
    stream = io.StringIO()
    countdown = Countdown(stream)
    for left in (1800, 1799.4, 1741, 1740, 1739, 1680.2, 59, 0):
        countdown.show(left)
    countdown.close()
    assert stream.getvalue().splitlines() == [
        "waiting for the code: 30:00 left (Ctrl-C cancels)",
        "waiting for the code: 29:00 left (Ctrl-C cancels)",
        "waiting for the code: 28:00 left (Ctrl-C cancels)",
        "waiting for the code: 0:59 left (Ctrl-C cancels)"]


def test_on_a_terminal_one_line_is_redrawn_and_ended():
    stream = Tty()
    countdown = Countdown(stream)
    countdown.show(65.9)
    countdown.show(-3)
    countdown.close()
    assert stream.getvalue() == ("\rwaiting for the code: 1:05 left (Ctrl-C cancels)"
                                 "\rwaiting for the code: 0:00 left (Ctrl-C cancels)\n")
