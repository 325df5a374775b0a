"""The shared location as a directory every machine mounts at the same path (the default).

Nodes write straight into their attempt's directory; the done marker is renamed into place;
gathering reads `items.jl` where it lies and moves the WARC files into the archive
(rotwatch/cluster/gather.py). Nothing is copied to the coordinator first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from core.records import DueTarget
from rotwatch.cluster.gather import move_warcs
from rotwatch.cluster.shared_dir import (
    AttemptDir,
    ShardDir,
    read_done,
    read_targets,
    shard_dir,
    write_done,
    write_targets,
)


class LocalShared:
    def __init__(self, root: Path) -> None:
        self.root = root

    def shard(self, run_id: int, name: str) -> str:
        return str(shard_dir(self.root, run_id, name).path)

    @contextmanager
    def targets_writer(self, shard: str) -> Iterator[TextIO]:
        final = ShardDir(Path(shard)).targets
        final.parent.mkdir(parents=True, exist_ok=True)
        building = final.with_suffix(".building")
        with building.open("w", encoding="utf-8") as out:
            yield out
        building.replace(final)  # not reached when the body raised: no half list

    def write_targets(self, shard: str, targets: Iterable[DueTarget]) -> int:
        return write_targets(ShardDir(Path(shard)).targets, targets)

    def done(self, shard: str, attempt: int) -> dict[str, Any] | None:
        return read_done(ShardDir(Path(shard)).attempt(attempt))

    def results(self, shard: str, attempt: int, done: dict[str, Any]) -> AttemptDir:
        return ShardDir(Path(shard)).attempt(attempt)

    def collect_warcs(self, shard: str, attempt: int, done: dict[str, Any],
                      warc_dir: Path) -> int:
        return move_warcs(ShardDir(Path(shard)).attempt(attempt), warc_dir)

    def release(self, shard: str, attempt: int) -> None:
        return None  # nothing was copied


class LocalNodeOutput:
    def __init__(self, shard: Path, attempt: int) -> None:
        self.shard = ShardDir(shard)
        self.attempt_dir = self.shard.attempt(attempt)
        # <shared>/runs/<run>/<shard>/attempt-<n>: unique across nodes and attempts
        self.warc_prefix = (f"rotwatch-{shard.parent.name}-{shard.name}-"
                            f"{self.attempt_dir.path.name}")
        self.attempt_dir.path.mkdir(parents=True, exist_ok=True)

    def targets(self) -> Iterator[DueTarget]:
        return read_targets(self.shard.targets)

    def finish(self, summary: dict[str, Any]) -> None:
        write_done(self.attempt_dir, summary)

    def close(self) -> None:
        return None
