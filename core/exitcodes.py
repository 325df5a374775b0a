"""Exit codes, named once and documented in docs/cli.md."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # the job ran; every checked link is healthy (or nothing to check)
    ERROR = 1  # bad input, bad config, a store that cannot be written, a crash
    DEAD_LINKS = 2  # the job ran and found broken or dead links
    # another rotwatch process holds the store's writer lock, or another connection held
    # SQLite's write lock for the whole busy wait ($ROTWATCH_BUSY_TIMEOUT, default 30 s)
    BUSY = 3
