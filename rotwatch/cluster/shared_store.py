"""Where shards and attempts live: one interface, a shared directory or an object store.

`[cluster] shared_dir` is either an absolute directory every machine mounts
(rotwatch/cluster/shared_local.py, the default) or an object storage URL such as
`s3://bucket/prefix` (rotwatch/cluster/shared_object.py and node_upload.py, through
fsspec: the `object-storage` extra). Both keep the layout of rotwatch/cluster/shared_dir.py.
A shard is named by a location string (a path or a URL), which is what a node's job gets;
rotwatch/cluster/shared_choice.py picks the implementation.

The coordinator's side (`SharedStore`) writes targets and reads a finished attempt; the
node's side (`NodeOutput`) gives the crawl a local items file and WARC directory and
publishes them when the crawl finished, its done marker last.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, TextIO

from core.records import DueTarget
from rotwatch.cluster.shared_dir import AttemptDir

Options = dict[str, Any]


class SharedStoreError(Exception):
    """The shared location cannot be used (named in one line, never with a credential)."""


def is_url(location: str) -> bool:
    return "://" in location


class SharedStore(Protocol):
    """The coordinator's view: shards' targets out, finished attempts in."""

    def shard(self, run_id: int, name: str) -> str:
        """A shard's location (what its node jobs are given)."""
        ...

    def targets_writer(self, shard: str) -> AbstractContextManager[TextIO]:
        """A file to write the shard's target lines into, published whole on a clean exit."""
        ...

    def write_targets(self, shard: str, targets: Iterable[DueTarget]) -> int:
        ...

    def done(self, shard: str, attempt: int) -> dict[str, Any] | None:
        """The attempt's done marker, or None while it has none (not finished)."""
        ...

    def results(self, shard: str, attempt: int, done: dict[str, Any]) -> AttemptDir:
        """A local directory with the finished attempt's `items.jl` (checked against the
        marker); raises SharedStoreError when it is not there whole."""
        ...

    def collect_warcs(self, shard: str, attempt: int, done: dict[str, Any],
                      warc_dir: Path) -> int:
        """Put the attempt's WARC files into the archive (a file already there is left
        alone); returns how many were added."""
        ...

    def release(self, shard: str, attempt: int) -> None:
        """Forget local copies made for this attempt (after it was gathered or refused)."""
        ...


class NodeOutput(Protocol):
    """A node job's view: its targets, where the crawl writes, and publishing at the end."""

    attempt_dir: AttemptDir  # local: items.jl and warcs/ are written here
    warc_prefix: str  # names WARC files uniquely across nodes and attempts

    def targets(self) -> Iterator[DueTarget]:
        ...

    def finish(self, summary: dict[str, Any]) -> None:
        """Publish the attempt: every file, then the done marker."""
        ...

    def close(self) -> None:
        """Remove what only this job needed (a local spool)."""
        ...


def options_arg(options: Iterable[tuple[str, Any]]) -> str:
    """The storage options as a job argument (they are non-secret by config rule)."""
    return json.dumps(dict(options), sort_keys=True)
