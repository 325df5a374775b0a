"""The shared directory between the coordinator and the nodes: layout and file formats.

    <shared>/runs/<run>/<shard>/targets.jl            the shard's targets (coordinator)
    <shared>/runs/<run>/<shard>/attempt-<n>/items.jl  results as JSON lines (node, FEEDS)
    <shared>/runs/<run>/<shard>/attempt-<n>/warcs/    WARC files (node)
    <shared>/runs/<run>/<shard>/attempt-<n>/done.json written last, when the crawl finished

Each attempt has its own directory, so a job that was given up on (its node vanished)
can never mix its output with the attempt that replaced it; only an attempt with
`done.json` is ever read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.store.validators import validators_from_db, validators_to_db
from core.records import Capture, DueTarget

TARGETS = "targets.jl"
ITEMS = "items.jl"
DONE = "done.json"
WARCS = "warcs"


@dataclass(frozen=True)
class AttemptDir:
    path: Path

    @property
    def items(self) -> Path:
        return self.path / ITEMS

    @property
    def warcs(self) -> Path:
        return self.path / WARCS

    @property
    def done(self) -> Path:
        return self.path / DONE


@dataclass(frozen=True)
class ShardDir:
    path: Path

    @property
    def targets(self) -> Path:
        return self.path / TARGETS

    def attempt(self, n: int) -> AttemptDir:
        return AttemptDir(self.path / f"attempt-{n}")


def shard_dir(shared: Path, run_id: int, shard: str) -> ShardDir:
    return ShardDir(shared / "runs" / str(run_id) / shard)


def target_line(t: DueTarget) -> str:
    # With what the node cannot ask the store: the validators for a conditional GET, and
    # the earlier full records a revisit may name (see DueTarget.originals).
    return json.dumps([t.id, t.key, t.url, t.host, t.next_check_at,
                       validators_to_db(t.validators),
                       [[c.uri, c.date, c.payload_digest] for c in t.originals]]) + "\n"


def write_targets(path: Path, targets: Iterable[DueTarget]) -> int:
    """Write a shard's targets whole (temp file, then rename); returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    count = 0
    with temp.open("w", encoding="utf-8") as out:
        for t in targets:
            out.write(target_line(t))
            count += 1
        out.flush()
        os.fsync(out.fileno())
    temp.replace(path)
    return count


def read_targets(path: Path) -> Iterator[DueTarget]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                id_, key, url, host, due, *extra = json.loads(line)
                validators, originals = [*extra, None, []][:2]
                yield DueTarget(int(id_), key, url, host, due, validators_from_db(validators),
                                tuple(Capture(str(u), str(d), str(p)) for u, d, p in originals))


def write_done(attempt: AttemptDir, summary: dict[str, Any]) -> None:
    temp = attempt.done.with_suffix(".tmp")
    temp.write_text(json.dumps(summary), encoding="utf-8")
    temp.replace(attempt.done)


def read_done(attempt: AttemptDir) -> dict[str, Any] | None:
    try:
        value = json.loads(attempt.done.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
