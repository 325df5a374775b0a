"""A node job's side of an object-storage shared location: a local spool, uploaded at close.

The crawl writes its results and WARC files to a spool directory on the node's own disk
(the WARC writer appends and, after a crash, truncates: an object store can do neither).
When the crawl finished, each file is uploaded whole (one atomic PUT, or a multipart upload
that appears only when complete), and the done marker last, listing every file with its
size and SHA-256. A job that fails or is cancelled, or an upload that fails, leaves no
marker: the coordinator runs the shard again under a new attempt prefix. The spool is
`$ROTWATCH_SPOOL_DIR` (or the system's temporary directory) and is removed at the end.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from archive.warc.writer import WARC_SUFFIX
from core.records import DueTarget
from rotwatch.cluster.object_fs import attempt_remote, connect, file_digest
from rotwatch.cluster.shared_dir import DONE, TARGETS, WARCS, AttemptDir, read_targets
from rotwatch.cluster.shared_store import SharedStoreError

LOG = logging.getLogger(__name__)
SPOOL_ENV = "ROTWATCH_SPOOL_DIR"


class ObjectNodeOutput:
    def __init__(self, shard: str, attempt: int, options: dict[str, Any]) -> None:
        self.shard = connect(shard.rstrip("/"), options)
        self.remote = attempt_remote(self.shard, attempt)
        spool_root = os.environ.get(SPOOL_ENV) or None
        if spool_root:
            Path(spool_root).mkdir(parents=True, exist_ok=True)
        self.spool = Path(tempfile.mkdtemp(prefix="rotwatch-spool-", dir=spool_root))
        self.attempt_dir = AttemptDir(self.spool / "attempt")
        self.attempt_dir.path.mkdir()
        # .../runs/<run>/<shard> + attempt-<n>: unique across nodes and attempts
        run, name = self.shard.url.rsplit("/", 2)[-2:]
        self.warc_prefix = f"rotwatch-{run}-{name}-attempt-{attempt}"

    def targets(self) -> Iterator[DueTarget]:
        local = self.spool / TARGETS
        source = self.shard.child(TARGETS)
        try:
            self.shard.call(f"download {TARGETS}", lambda: self.shard.fs.get_file(
                source.path, str(local)))
        except FileNotFoundError:
            raise SharedStoreError(f"{source.url} does not exist") from None
        return read_targets(local)

    def _files(self) -> list[tuple[str, Path]]:
        found = [(self.attempt_dir.items.name, self.attempt_dir.items)] \
            if self.attempt_dir.items.is_file() else []
        if self.attempt_dir.warcs.is_dir():
            found += [(f"{WARCS}/{p.name}", p)
                      for p in sorted(self.attempt_dir.warcs.glob(f"*{WARC_SUFFIX}"))]
        return found

    def finish(self, summary: dict[str, Any]) -> None:
        files: dict[str, dict[str, Any]] = {}
        for name, path in self._files():
            files[name] = file_digest(path)
            self.remote.call(f"upload {name}", partial(
                self.remote.fs.put_file, str(path), self.remote.child(name).path))
        marker = json.dumps({**summary, "files": files}).encode()
        done = self.remote.child(DONE)
        # Last: its presence says every file it lists is there, whole.
        self.remote.call(f"upload {DONE}", lambda: self.remote.fs.pipe_file(done.path, marker))
        LOG.info("uploaded %d files and %s to %s", len(files), DONE, self.remote.url)

    def close(self) -> None:
        shutil.rmtree(self.spool, ignore_errors=True)
