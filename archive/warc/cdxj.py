"""The CDXJ index beside the WARC files: one sorted `.cdxj` per finished WARC file.

`<warc dir>/indexes/<name>.warc.gz.cdxj` holds one line per response, revisit and
resource record of `<name>.warc.gz`, as cdxj-indexer writes them (the format pywb and
ReplayWeb.page read): `<SURT url key> <14-digit time> {"url", "mime", "status",
"digest", "length", "offset", "filename"}`, sorted. A crawl process indexes each file it
wrote when it closes it; `index_missing` indexes any file left without one (a crash, or a
data dir from before the index existed). Lookups by URL binary-search each index file,
so they read a few lines per file and never a WARC.

Each index is written to a temp name and renamed: a reader sees a whole index or none.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import surt

with warnings.catch_warnings():
    # cdxj-indexer imports Py3AMF, which imports the deprecated pkg_resources: a warning on
    # every command's stderr (newer setuptools) that says nothing about rotwatch.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated",
                            category=UserWarning)
    from cdxj_indexer.main import CDXJIndexer

from archive.warc.recovery import WARC_SUFFIX

INDEX_DIR = "indexes"
INDEX_SUFFIX = ".cdxj"


@dataclass(frozen=True)
class IndexEntry:
    """One CDXJ line: where a capture of a URL is, and what it was."""

    timestamp: str  # 14 digits, UTC
    url: str
    status: int | None
    mime: str | None
    digest: str | None
    filename: str
    offset: int
    length: int

    @property
    def is_revisit(self) -> bool:
        return self.mime == "warc/revisit"


def url_key(url: str) -> str:
    """The SURT key cdxj-indexer sorts by (and the key a lookup searches for)."""
    try:
        return str(surt.surt(url))
    except Exception:  # surt refuses some odd URLs; cdxj-indexer then keys by the URL
        return url


def index_path(warc_dir: Path, warc_name: str) -> Path:
    return warc_dir / INDEX_DIR / (warc_name + INDEX_SUFFIX)


def index_files(warc_dir: Path, names: Iterable[str]) -> list[Path]:
    """Write (or rewrite) the index of each finished WARC file named; returns them."""
    written = []
    (warc_dir / INDEX_DIR).mkdir(parents=True, exist_ok=True)
    for name in names:
        target = index_path(warc_dir, name)
        temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            CDXJIndexer(output=str(temp), inputs=[str(warc_dir / name)], sort=True,
                        filename=name).process_all()
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        written.append(target)
    return written


def index_missing(warc_dir: Path) -> list[Path]:
    """Index every finished WARC file that has no index yet (or a stale one)."""
    if not warc_dir.is_dir():
        return []
    stale = []
    for path in sorted(warc_dir.glob(f"*{WARC_SUFFIX}")):
        index = index_path(warc_dir, path.name)
        try:
            if index.stat().st_mtime_ns >= path.stat().st_mtime_ns:
                continue
        except FileNotFoundError:
            pass
        stale.append(path.name)
    return index_files(warc_dir, stale)


def lookup(warc_dir: Path, url: str) -> list[IndexEntry]:
    """Every indexed capture of exactly this URL, oldest first."""
    key = url_key(url).encode("utf-8") + b" "
    found: list[IndexEntry] = []
    for index in sorted((warc_dir / INDEX_DIR).glob(f"*{INDEX_SUFFIX}")):
        with open(index, "rb") as fh:
            fh.seek(_first_line_at_or_after(fh, key, index.stat().st_size))
            for line in fh:
                if not line.startswith(key):
                    break
                entry = _entry(line)
                if entry.url == url:
                    found.append(entry)
    return sorted(found, key=lambda e: (e.timestamp, e.filename, e.offset))


def _first_line_at_or_after(fh: BinaryIO, key: bytes, size: int) -> int:
    """Offset of the first line that sorts at or after `key` (lines sorted as bytes)."""

    def line_from(position: int) -> tuple[int, bytes]:
        # the first whole line starting at or after `position`
        fh.seek(max(position - 1, 0))
        if position:
            fh.readline()
        return fh.tell(), fh.readline()

    lo, hi = 0, size
    while lo < hi:  # smallest position whose line is >= key (or past the end)
        mid = (lo + hi) // 2
        _, line = line_from(mid)
        if line and line < key:
            lo = mid + 1
        else:
            hi = mid
    return line_from(lo)[0]


def _entry(line: bytes) -> IndexEntry:
    _, timestamp, fields = line.decode("utf-8").split(" ", 2)
    data = json.loads(fields)
    status = data.get("status")
    return IndexEntry(timestamp, data["url"], int(status) if str(status).isdigit() else None,
                      data.get("mime"), data.get("digest"), data["filename"],
                      int(data["offset"]), int(data["length"]))
