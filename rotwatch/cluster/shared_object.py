"""The coordinator's side of an object-storage shared location (s3://…, any fsspec store).

Targets are written to a local file and uploaded whole. A finished attempt is one whose
done marker exists; its `items.jl` is downloaded into a local staging directory and its
WARC files into the archive (beside their final name, then renamed), each checked against
the size and SHA-256 the marker lists, so a torn or missing upload is refused (the shard
runs again) rather than half gathered. WARC objects are deleted once in the archive, as a
shared directory's are moved.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Self, TextIO

from archive.warc.writer import WARC_SUFFIX
from core.records import DueTarget
from rotwatch.cluster.object_fs import (
    Remote,
    attempt_remote,
    connect,
    download_checked,
    listed_files,
    read_marker,
)
from rotwatch.cluster.shared_dir import ITEMS, TARGETS, WARCS, AttemptDir, target_line
from rotwatch.cluster.shared_store import SharedStoreError

LOG = logging.getLogger(__name__)
PROBE = ".rotwatch-probe"


class ObjectShared:
    def __init__(self, root: Remote, staging: Path) -> None:
        self.root = root
        self.staging = staging

    @classmethod
    def connect(cls, url: str, options: dict[str, Any], staging: Path) -> Self:
        """Connect and prove the store answers and takes writes (a probe object)."""
        root = connect(url.rstrip("/"), options)
        probe = root.child(PROBE)
        try:
            root.call("write", lambda: root.fs.pipe_file(probe.path, b"rotwatch\n"))
            root.call("read", lambda: root.fs.cat_file(probe.path))
        except FileNotFoundError as exc:  # e.g. the bucket does not exist
            raise SharedStoreError(f"object store {url}: not found ({exc})") from None
        return cls(root, staging)

    def _shard(self, shard: str) -> Remote:
        # `shard` is one of our own locations: root URL + "/runs/<run>/<name>"
        relative = shard[len(self.root.url):].strip("/")
        return self.root.child(*relative.split("/"))

    def shard(self, run_id: int, name: str) -> str:
        return self.root.child("runs", str(run_id), name).url

    @contextmanager
    def targets_writer(self, shard: str) -> Iterator[TextIO]:
        remote = self._shard(shard).child(TARGETS)
        self.staging.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.staging) as temp:
            local = Path(temp) / TARGETS
            with local.open("w", encoding="utf-8") as out:
                yield out
            remote.call(f"upload {TARGETS}", lambda: remote.fs.put_file(str(local),
                                                                         remote.path))

    def write_targets(self, shard: str, targets: Iterable[DueTarget]) -> int:
        count = 0
        with self.targets_writer(shard) as out:
            for target in targets:
                out.write(target_line(target))
                count += 1
        return count

    def done(self, shard: str, attempt: int) -> dict[str, Any] | None:
        return read_marker(attempt_remote(self._shard(shard), attempt))

    def _local(self, shard: str, attempt: int) -> Path:
        relative = shard[len(self.root.url):].strip("/")
        return self.staging.joinpath(*relative.split("/"), f"attempt-{attempt}")

    def results(self, shard: str, attempt: int, done: dict[str, Any]) -> AttemptDir:
        local = AttemptDir(self._local(shard, attempt))
        files = listed_files(done)
        local.items.unlink(missing_ok=True)
        if ITEMS in files:  # a crawl without results uploads no results file
            download_checked(attempt_remote(self._shard(shard), attempt), ITEMS,
                             files[ITEMS], local.items)
        return local

    def collect_warcs(self, shard: str, attempt: int, done: dict[str, Any],
                      warc_dir: Path) -> int:
        remote = attempt_remote(self._shard(shard), attempt)
        names = sorted(n for n in listed_files(done)
                       if n.startswith(f"{WARCS}/") and n.endswith(WARC_SUFFIX))
        files = listed_files(done)
        warc_dir.mkdir(parents=True, exist_ok=True)
        added: list[str] = []
        for name in names:
            final = warc_dir / name.split("/", 1)[1]
            if final.exists():
                continue  # gathered before (a shard gathered twice adds nothing)
            part = final.with_name(final.name + ".part")
            download_checked(remote, name, files[name], part)
            part.replace(final)
            added.append(name)
        for name in added:
            # Best effort: the archive holds the file now; a left-over object is only space
            # (old runs can be removed by a lifecycle rule on <prefix>/runs/).
            with contextlib.suppress(SharedStoreError, FileNotFoundError):
                remote.call(f"delete {name}", partial(remote.fs.rm_file,
                                                      remote.child(name).path))
        return len(added)

    def release(self, shard: str, attempt: int) -> None:
        shutil.rmtree(self._local(shard, attempt), ignore_errors=True)
