"""Exit codes, one meaning each, and the one rule choosing them (table: docs/cli.md).

Every command ends through `exit_code`. "Links need attention" has one definition for
`check`, `run` and `report`: a selected link is in a state named by `--fail-on`
(`needs_attention`), whatever this particular run checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import IntEnum, StrEnum


class ExitCode(IntEnum):
    OK = 0  # done, and nothing needs attention (also when nothing was due)
    ERROR = 1  # runtime error: bad input or config, a store that cannot be written, a crash
    ATTENTION = 2  # done, and a selected link is in a --fail-on state (default dead, failing)
    # another rotwatch process holds the store's writer lock, or another connection held
    # SQLite's write lock for the whole busy wait ($ROTWATCH_BUSY_TIMEOUT, default 30 s)
    BUSY = 3
    USAGE = 64  # the command line is wrong (sysexits' EX_USAGE): nothing was done
    DEAD_LINKS = 2  # the old name of ATTENTION (an alias: same member)


class FailOn(StrEnum):
    """Link states that make a command exit 2 (`--fail-on`). Closed."""

    DEAD = "dead"
    FAILING = "failing"
    CHANGED = "changed"


# Dead and failing: a failing link is broken now (a first 404 is news for a CI job) even if
# the policy does not call it dead yet. Changed (content drift) is opt-in: it is a finding
# for an editor, not a broken link.
DEFAULT_FAIL_ON: frozenset[FailOn] = frozenset({FailOn.DEAD, FailOn.FAILING})


def parse_fail_on(values: Iterable[str]) -> frozenset[FailOn]:
    """`--fail-on` values, each a state or a comma list; none given: DEFAULT_FAIL_ON.

    Raises ValueError naming the unknown word and the known ones.
    """
    chosen: set[FailOn] = set()
    for value in values:
        for word in value.split(","):
            word = word.strip().lower()
            if not word:
                continue
            try:
                chosen.add(FailOn(word))
            except ValueError:
                known = ", ".join(f.value for f in FailOn)
                raise ValueError(f"unknown state {word!r} (known: {known})") from None
    return frozenset(chosen) if chosen else DEFAULT_FAIL_ON


def needs_attention(states: Mapping[str, int], fail_on: frozenset[FailOn]) -> int:
    """How many of these links (count per state) are in a state that fails the command."""
    return sum(n for state, n in states.items() if state in fail_on)


def exit_code(*, busy: bool = False, error: bool = False, attention: bool = False,
              usage: bool = False) -> ExitCode:
    """The code of a command's outcome; every command ends through this.

    A usage error wins (nothing ran); busy over error (a busy store is also a failure,
    but "try later" is the more useful answer); error over links needing attention (links
    found by a run that then failed are not the news); attention over ok.
    """
    if usage:
        return ExitCode.USAGE
    if busy:
        return ExitCode.BUSY
    if error:
        return ExitCode.ERROR
    return ExitCode.ATTENTION if attention else ExitCode.OK
