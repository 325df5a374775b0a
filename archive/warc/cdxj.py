"""The CDXJ index beside the WARC files: one sorted `.cdxj` per finished WARC file.

`<warc dir>/indexes/<name>.warc.gz.cdxj` holds one line per response, revisit and
resource record of `<name>.warc.gz`, as cdxj-indexer writes them (the format pywb and
ReplayWeb.page read): `<SURT url key> <14-digit time> {"url", "mime", "status",
"digest", "length", "offset", "filename"}`, sorted. A crawl process indexes each file it
wrote when it closes it; `index_missing` indexes any file left without one (a crash, or a
data dir from before the index existed). The crawl's writer does not read its file back
for that: it writes the lines of the records it wrote itself (`index_line`), the lines
cdxj-indexer would write, and leaves a file to cdxj-indexer only when a record's headers
are unusual enough that only reading them back tells (archive.warc.writer). Lookups by URL
binary-search each index file, so they read a few lines per file and never a WARC.

Each index is written to a temp name and renamed: a reader sees a whole index or none.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

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


# A URL whose key surt builds by lower-casing and reordering alone: http(s), a host of
# letters, digits, dots and hyphens with an optional port, path segments of unreserved
# characters not starting with a dot (no escapes, no dot segments, no empty segments), a
# query of unreserved characters, "=" and "&" (no escapes, no "+"), any fragment (surt
# drops it), no user.
_PLAIN_URL = re.compile(r"(https?)://([A-Za-z0-9.-]+)(?::([0-9]+))?"
                        r"((?:/[A-Za-z0-9_~-][A-Za-z0-9_.~-]*)*/?)"
                        r"(?:\?([A-Za-z0-9_.~=&-]*))?(?:#.*)?", re.DOTALL)
# A host surt keeps as it is (lower-cased, "www…." cut, labels reversed): labels of
# letters, digits and hyphens with a letter or a hyphen somewhere (so not an IP address in
# one of the forms surt rewrites), or a dotted quad written the usual way.
_PLAIN_HOST = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*")
_HAS_NAME = re.compile(r"[a-z-]")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_DOTTED_QUAD = re.compile(rf"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[1-9])"
                          rf"(?:\.{_OCTET}){{3}}")
_WWW = re.compile(r"www[0-9]*\.")
_DEFAULT_PORT = {"http": 80, "https": 443}
# Query parameters surt strips as session ids (URLRegexTransformer): such a query takes
# the slow path, whatever its case.
_SESSION_PARAMETERS = ("sessionid", "sid=", "cfid=")


def url_key(url: str) -> str:
    """The SURT key cdxj-indexer sorts by (and the key a lookup searches for).

    surt parses and canonicalises the whole URL (~45 µs, a tenth of archiving a small
    page, and importing it costs a process ~0.2 s: tldextract, requests); a plain URL's key
    is built here from its parts as surt builds it, and any other URL goes to surt.
    Equal to `surt.surt(url)`: tests/test_warc_index.py compares them over generated
    URLs, with and without queries and fragments."""
    plain = _PLAIN_URL.fullmatch(url)
    if plain is not None:
        scheme, host, port, path, query = plain.groups()
        origin = _origin_key(scheme, host, port)
        if origin is not None and not (query and _has_session_id(query)):
            key = origin + (path[:-1] if len(path) > 1 and path.endswith("/")
                            else path or "/").lower()
            return key + "?" + _sorted_query(query.lower()) if query else key
    return _surt(url)


def _surt(url: str) -> str:
    import surt  # ~0.2 s to import (tldextract, requests): only odd URLs need it

    try:
        return str(surt.surt(url))
    except Exception:  # surt refuses some odd URLs; cdxj-indexer then keys by the URL
        return url


@lru_cache(maxsize=1024)
def _origin_key(scheme: str, host: str, port: str | None) -> str | None:
    """The SURT of an origin without its root path ("2,0,0,127:8080)"), if surt keeps the
    host as it is; None for a host surt rewrites (the whole URL then goes to surt)."""
    host = host.lower()
    if not (_PLAIN_HOST.fullmatch(host) and (_HAS_NAME.search(host)
                                             or _DOTTED_QUAD.fullmatch(host))):
        return None
    if port is not None and not (port[0] != "0" and int(port) <= 65535):
        return None
    www = _WWW.match(host)
    if www is not None:
        host = host[www.end():]
    suffix = "" if port is None or int(port) == _DEFAULT_PORT[scheme] else f":{int(port)}"
    return ",".join(reversed(host.split("."))) + suffix + ")"


def _has_session_id(query: str) -> bool:
    lowered = query.lower()
    return any(name in lowered for name in _SESSION_PARAMETERS)


def _sorted_query(query: str) -> str:
    """The query's parameters in order, as surt sorts them: by (name, value) pairs split
    at the first "=", a parameter without "=" before one with it."""
    if len(query) <= 1:
        return query
    pairs = sorted(tuple(arg.split("=", 1)) for arg in query.split("&"))
    return "&".join("=".join(pair) for pair in pairs)


def index_path(warc_dir: Path, warc_name: str) -> Path:
    return warc_dir / INDEX_DIR / (warc_name + INDEX_SUFFIX)


# Where cdxj-indexer cuts a Content-Type down to its media type.
_MIME_END = re.compile(r"[;\s]")


def index_line(url: str, warc_date: datetime, status: int, mime: str | None, digest: str,
               filename: str, offset: int, length: int) -> str:
    """The line cdxj-indexer writes for a response or revisit record with these values.

    `mime` is the record's Content-Type as archived ("warc/revisit" for a revisit; None
    when the response had none). tests/test_handover.py compares a crawl's lines with
    cdxj-indexer's for the same files.
    """
    fields: dict[str, str] = {"url": url}
    if mime is not None:
        fields["mime"] = _MIME_END.split(mime.strip(), 1)[0].strip()
    fields.update(status=str(status), digest=digest, length=str(length),
                  offset=str(offset), filename=filename)
    utc = warc_date.astimezone(UTC)
    stamp = _stamp(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
    return f"{url_key(url)} {stamp} {json.dumps(fields)}\n"


@lru_cache(maxsize=64)
def _stamp(year: int, month: int, day: int, hour: int, minute: int, second: int) -> str:
    # A crawl indexes dozens of records a second: strftime once per second is enough.
    return f"{year:04d}{month:02d}{day:02d}{hour:02d}{minute:02d}{second:02d}"


def write_index(warc_dir: Path, name: str, lines: list[str]) -> Path:
    """Write the index of WARC file `name` from its lines (as `index_line` makes them)."""
    return _replace(warc_dir, name,
                    lambda temp: temp.write_text("".join(sorted(lines)), encoding="utf-8"))


def index_files(warc_dir: Path, names: Iterable[str]) -> list[Path]:
    """Write (or rewrite) the index of each finished WARC file named, reading it with
    cdxj-indexer; returns them."""
    with warnings.catch_warnings():
        # cdxj-indexer imports Py3AMF, which imports the deprecated pkg_resources: a
        # warning on every command's stderr (newer setuptools) that says nothing about
        # rotwatch. Imported here, not at the top: a crawl process seldom needs it, and
        # the import alone cost it as much as indexing its file.
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated",
                                category=UserWarning)
        from cdxj_indexer.main import CDXJIndexer

    def read(name: str) -> Callable[[Path], None]:
        return lambda temp: CDXJIndexer(output=str(temp), inputs=[str(warc_dir / name)],
                                        sort=True, filename=name).process_all()

    return [_replace(warc_dir, name, read(name)) for name in names]


def _replace(warc_dir: Path, name: str, write: Callable[[Path], object]) -> Path:
    """Write `name`'s index to a temp name with `write`, then rename it into place."""
    target = index_path(warc_dir, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        write(temp)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target


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
