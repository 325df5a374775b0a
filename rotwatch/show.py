"""One archived capture brought back: found by URL and time in the CDXJ index, its body read
straight from the WARC (Content-Encoding undone by the bounded decoder), redirects followed
within the archive, and the drift of a target's text since its baseline as a short diff.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

from archive.store import ArchivedSnapshot, Store
from archive.store.texts import response_capture
from archive.warc.cdxj import IndexEntry, index_missing, lookup
from archive.warc.writer import StoredResponse, read_response
from core.urls import resolve
from rotwatch.lazy_text import extract_stored

MAX_HOPS = 10
DIFF_LINES = 40


class NotArchived(Exception):
    """No capture of the URL is in the archive (or the one asked for cannot be read)."""


@dataclass(frozen=True)
class Shown:
    """The capture shown, the redirects followed to it, and its body."""

    entry: IndexEntry
    response: StoredResponse  # headers and status of the capture itself
    body: bytes  # decoded; a revisit's comes from its original
    hops: tuple[IndexEntry, ...]  # redirect captures followed to reach `entry`


def _when(entry: IndexEntry) -> datetime:
    return datetime.strptime(entry.timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def captures(store: Store, warc_dir: Path, url: str) -> list[IndexEntry]:
    """Every capture of `url` (or of the target it names), oldest first."""
    # Files a crash left unindexed, or a data dir older than the index; on a read-only
    # archive, look up what is indexed.
    with contextlib.suppress(OSError):
        index_missing(warc_dir)
    found = lookup(warc_dir, url)
    if not found:
        target = store.target_url(resolve(url, None).key)
        if target and target != url:
            found = lookup(warc_dir, target)
    return found


def nearest(entries: list[IndexEntry], at: datetime | None) -> IndexEntry:
    """The latest capture, or the one nearest `at` (the earlier one on a tie)."""
    if at is None:
        return entries[-1]
    return min(entries, key=lambda e: abs((_when(e) - at).total_seconds()))


def show(store: Store, warc_dir: Path, url: str, at: datetime | None = None) -> Shown:
    """The capture of `url` nearest `at`, following archived redirects to a page."""
    hops: list[IndexEntry] = []
    entries = captures(store, warc_dir, url)
    if not entries:
        raise NotArchived(f"no capture of {url} in the archive")
    entry = nearest(entries, at)
    moment = at or _when(entry)
    while True:
        response = read_response(warc_dir, entry.filename, entry.offset)
        location = _header(response, "location")
        if not (300 <= response.status < 400 and location) or len(hops) >= MAX_HOPS:
            break
        following = lookup(warc_dir, urljoin(response.url, location))
        if not following:
            break  # the redirect itself is what the archive holds
        hops.append(entry)
        entry = nearest(following, moment)
    return Shown(entry, response, _body(store, warc_dir, response), tuple(hops))


def _body(store: Store, warc_dir: Path, response: StoredResponse) -> bytes:
    if response.record_type != "revisit":
        return response.payload
    original = store.response_for(response.payload_digest or "", response.refers_to_uri)
    if original is None:
        raise NotArchived(f"the capture of {response.url} is a revisit whose original "
                          "is not stored; run rotwatch verify")
    return read_response(warc_dir, original.warc_file, original.offset).payload


def _header(response: StoredResponse, name: str) -> str | None:
    return next((v for k, v in response.headers if k.lower() == name), None)


def headers_text(shown: Shown) -> str:
    r = shown.response
    lines = [f"{r.status} {r.reason}".rstrip(), *(f"{k}: {v}" for k, v in r.headers)]
    return "\n".join(lines) + "\n"


def listing(entries: list[IndexEntry]) -> list[str]:
    """One line per capture: time, status, record type, payload digest, file@offset."""
    return [f"{_when(e).isoformat().replace('+00:00', 'Z')}  {e.status or '-':>3}  "
            f"{'revisit' if e.is_revisit else 'response':8}  {e.digest or '-'}  "
            f"{e.filename}@{e.offset}" for e in entries]


def drift_diff(store: Store, url: str, warc_dir: Path) -> list[str]:
    """A short unified diff of the main text: the baseline capture against the latest."""
    key = resolve(url, None).key
    baseline = store.baseline_of(key)
    latest = store.latest_result_of(key)
    if baseline is None or latest is None:
        raise NotArchived(f"no baseline capture of {url} in the store")
    before = _sentences(_main_text(store, warc_dir, baseline) or "")
    after = _sentences(_main_text(store, warc_dir, latest) or "")
    diff = list(difflib.unified_diff(
        before, after, fromfile=f"baseline {baseline.warc_date or baseline.fetched_at}",
        tofile=f"latest {latest.warc_date or latest.fetched_at}", lineterm="", n=0))
    if len(diff) > DIFF_LINES:
        diff = [*diff[:DIFF_LINES], f"... {len(diff) - DIFF_LINES} more line(s)"]
    return diff


def _main_text(store: Store, warc_dir: Path, snapshot: ArchivedSnapshot) -> str | None:
    """A capture's main text: as stored, else extracted now from its WARC record (text is
    extracted only when a comparison needs it, rotwatch/lazy_text.py). Not written back:
    `show` only reads the archive."""
    stored = store.snapshot_text(snapshot.id)
    if stored is not None:
        return stored
    source = response_capture(store.db, snapshot.digest)
    if source is None or not source.pending:
        return None
    main = extract_stored(warc_dir, source)
    return main.text if main is not None else None


def _sentences(text: str) -> list[str]:
    # Main text comes as paragraphs; sentences make a diff a reader can follow.
    return [s for s in (p.strip() for p in re.split(r"(?<=[.!?。！？])\s+|\n+", text)) if s]
