"""`--include`/`--exclude` URL regexes, accepted only when their matching cost is bounded.

A pattern comes from the operator (command line or config) and is searched in every
target URL, so a careless one must not stall a run: Python's `re` backtracks, and
`(a+)+$` takes exponential time, `.*a.*b` cubic. Without a linear engine (re2) in the
dependencies, a pattern is refused unless its structure bounds the work:

* at most `MAX_PATTERN` characters, and valid;
* no backreference, lookaround or conditional;
* no repeat or alternation inside a repeat (the exponential cases);
* a worst-case step estimate (the product of its repeats' widths, an unbounded one being
  the longest URL matched) times the URL length at most `MAX_STEPS`.

URLs are matched on their first `MAX_URL` characters (Scrapy's default URL length limit),
so the estimate is a real ceiling. Searches are unanchored: `gov\\.cn/` matches anywhere,
and a leading or trailing `.*` is never needed.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_PATTERN = 256
MAX_URL = 2083
MAX_STEPS = 20_000_000  # ~0.1-0.3 s of `re` at worst for one adversarial URL

# The parser of `re` itself, so the structure checked is the one that runs. Loaded by name:
# it is private (`re._parser`, Python >= 3.11), and its public alias warns.
_PARSER: Any = importlib.import_module("re._parser")
_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}
_REFUSED = {"GROUPREF": "a backreference", "GROUPREF_EXISTS": "a conditional",
            "ASSERT": "a lookahead or lookbehind", "ASSERT_NOT": "a lookahead or lookbehind"}


class PatternError(ValueError):
    """A URL pattern that is invalid or could take too long; the message names why."""


def _cost(items: Any, inside_repeat: bool, pattern: str, top: bool = False) -> int:
    """Worst-case backtracking factor of a parsed sequence (1 for no repeat)."""
    total = 1
    last = len(items) - 1
    for index, (op, arg) in enumerate(items):
        name = str(op)
        if name in _REFUSED:
            raise PatternError(f"URL pattern {pattern!r} uses {_REFUSED[name]}, which is "
                               "not supported")
        if name in _REPEATS:
            _, high, body = arg
            if inside_repeat and high > 1:
                raise PatternError(f"URL pattern {pattern!r} nests a repeat in a repeat, "
                                   "which can take exponential time")
            width = MAX_URL if high == _PARSER.MAXREPEAT else high
            if top and index == last and name == "MAX_REPEAT":
                width = 0  # greedy with nothing after it: never backtracks (`gov/.*`)
            total *= (width + 1) * _cost(body, inside_repeat or high > 1, pattern)
        elif name == "BRANCH":
            if inside_repeat:
                raise PatternError(f"URL pattern {pattern!r} repeats an alternation, which "
                                   "can take exponential time; use a character class")
            total *= sum(_cost(branch, inside_repeat, pattern) for branch in arg[1])
        elif name in ("SUBPATTERN", "ATOMIC_GROUP"):
            total *= _cost(arg[-1], inside_repeat, pattern)
        total = min(total, MAX_STEPS + 1)  # only "over the limit" matters
    return total


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled pattern, or PatternError saying in one line what is wrong with it."""
    if not pattern:
        raise PatternError("URL pattern is empty")
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"URL pattern is {len(pattern)} characters long; at most "
                           f"{MAX_PATTERN}")
    try:
        compiled = re.compile(pattern)
        parsed = _PARSER.parse(pattern)
    except re.error as exc:
        raise PatternError(f"URL pattern {pattern!r} is not a valid regex: {exc}") from None
    # Anchored at the start: `re` tries one position, not every one.
    anchored = len(parsed) > 0 and str(parsed[0][0]) == "AT" and str(parsed[0][1]) in (
        "AT_BEGINNING", "AT_BEGINNING_STRING")
    starts = 1 if anchored else MAX_URL
    if starts * _cost(parsed, False, pattern, top=True) > MAX_STEPS:
        raise PatternError(f"URL pattern {pattern!r} could take too long on a long URL "
                           "(several unbounded repeats such as .* or +); patterns match "
                           "anywhere in the URL, so a leading or trailing .* is not needed")
    return compiled


@dataclass(frozen=True)
class UrlFilter:
    """Which URLs a command keeps: any include matches (or none given), no exclude does."""

    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def of(cls, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> UrlFilter:
        return cls(tuple(compile_pattern(p) for p in include),
                   tuple(compile_pattern(p) for p in exclude))

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)

    def keeps(self, url: str) -> bool:
        head = url[:MAX_URL]
        if self.include and not any(p.search(head) for p in self.include):
            return False
        return not any(p.search(head) for p in self.exclude)


def check_patterns(patterns: Sequence[str]) -> tuple[str, ...]:
    """The patterns unchanged, once each has compiled (PatternError otherwise)."""
    for pattern in patterns:
        compile_pattern(pattern)
    return tuple(patterns)
