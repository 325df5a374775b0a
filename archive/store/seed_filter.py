"""The one `--seed` filter: a seed is selected when its path contains any of the texts."""

from __future__ import annotations

from collections.abc import Sequence


def seed_match(seeds: Sequence[str], alias: str = "s") -> tuple[str, list[str]]:
    """SQL for "the seed row `alias` matches one of `seeds`" and its parameters.

    No texts: ("1=1", []), so the condition can always be ANDed in. The texts are
    substrings of the seed's path (`LIKE %text%`), as `rotwatch links --seed` documents.
    """
    if not seeds:
        return "1=1", []
    sql = "(" + " OR ".join(f"{alias}.path LIKE ?" for _ in seeds) + ")"
    return sql, [f"%{text}%" for text in seeds]
