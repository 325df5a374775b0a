"""Exit codes, named once and documented in docs/cli.md, and the one rule choosing them."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # the job ran; every checked link is healthy (or nothing to check)
    ERROR = 1  # bad input, bad config, a store that cannot be written, a crash
    DEAD_LINKS = 2  # the job ran and found broken or dead links
    # another rotwatch process holds the store's writer lock, or another connection held
    # SQLite's write lock for the whole busy wait ($ROTWATCH_BUSY_TIMEOUT, default 30 s)
    BUSY = 3


def exit_code(*, busy: bool = False, error: bool = False, attention: bool = False) -> ExitCode:
    """The code of a command's outcome; every command ends through this.

    Busy wins over error (a busy store is also a failure, but "try later" is the more
    useful answer), error over links needing attention (links found by a run that then
    failed are not the news), and attention over ok.
    """
    if busy:
        return ExitCode.BUSY
    if error:
        return ExitCode.ERROR
    return ExitCode.DEAD_LINKS if attention else ExitCode.OK
