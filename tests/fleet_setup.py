"""What the fleet tests write before a fleet check: a config with a [cluster] table, a seed
of links, and how they read the verdicts back (shared by tests/test_fleet*.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.helpers import query, write_config


def fleet_config(path: Path, crawl: dict[str, Any], shared: str, urls: list[str],
                 extra: Sequence[str] = ()) -> Path:
    """A config with `crawl` settings and a [cluster] of these nodes; `extra` lines go in
    the [cluster] table."""
    write_config(path, **crawl)
    lines = ["", "[cluster]", f"scrapyd = {json.dumps(urls)}", f'shared_dir = "{shared}"',
             "poll_interval = 0.2", "request_timeout = 10", *extra]
    with path.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    return path


def seed(path: Path, urls: list[str]) -> Path:
    path.write_text("# Links\n\n" + "\n".join(f"- [l{i}]({u})" for i, u in enumerate(urls))
                    + "\n", encoding="utf-8")
    return path


def verdicts(data: Path) -> dict[str, str]:
    return dict(query(data, "SELECT t.url, c.verdict FROM checks c JOIN targets t "
                            "ON t.id = c.target_id"))
