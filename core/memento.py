"""Web-archive answers read: Memento link-format (RFC 7089/6690) and Wayback availability JSON.

Pure parsing and choice, no I/O: the client in rotwatch/webarchive.py fetches the bytes
(size-capped) and hands them here. Archive responses come from outside, so the parsers
are linear, never raise on bad input (they return nothing), and keep only http(s) URLs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from core.urls import resolve


@dataclass(frozen=True)
class Memento:
    """One archived copy: where it is and when it was captured."""

    url: str
    captured_at: datetime


def _split_top(text: str, sep: str) -> Iterator[str]:
    """Split on `sep` outside <…> and "…" (link-format URIs and dates contain commas)."""
    start, in_uri, in_quote, i = 0, False, False, 0
    while i < len(text):
        ch = text[i]
        if in_quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quote = False
        elif in_uri:
            in_uri = ch != ">"
        elif ch == '"':
            in_quote = True
        elif ch == "<":
            in_uri = True
        elif ch == sep:
            yield text[start:i]
            start = i + 1
        i += 1
    yield text[start:]


def parse_links(text: str) -> list[tuple[str, dict[str, str]]]:
    """A link-format document or Link header: [(uri, {param: value})], bad entries skipped."""
    links: list[tuple[str, dict[str, str]]] = []
    for entry in _split_top(text, ","):
        parts = list(_split_top(entry.strip(), ";"))
        head = parts[0].strip()
        if not (head.startswith("<") and head.endswith(">")):
            continue
        params: dict[str, str] = {}
        for part in parts[1:]:
            name, eq, value = part.partition("=")
            if eq:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1].replace('\\"', '"')
                params[name.strip().lower()] = value
        links.append((head[1:-1].strip(), params))
    return links


def http_date(value: str) -> datetime | None:
    """An RFC 1123 date (Memento-Datetime, link-format `datetime`), in UTC; None if bad."""
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_http_date(moment: datetime) -> str:
    """`moment` as an RFC 1123 date, for Accept-Datetime."""
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def _web_url(uri: str) -> str | None:
    resolved = resolve(uri, None)
    return resolved.url if resolved.checkable else None


def mementos(links: Iterable[tuple[str, dict[str, str]]]) -> list[Memento]:
    """The entries whose rel includes "memento" and that carry a valid datetime."""
    found: list[Memento] = []
    for uri, params in links:
        if "memento" not in params.get("rel", "").lower().split():
            continue
        at = http_date(params.get("datetime", ""))
        url = _web_url(uri)
        if at is not None and url is not None:
            found.append(Memento(url, at))
    return found


def nearest(candidates: Iterable[Memento], near: datetime) -> Memento | None:
    """The copy captured closest to `near`; on a tie the earlier one (what was cited)."""
    best: Memento | None = None
    for m in candidates:
        gap = abs(m.captured_at - near)
        if best is None or (gap, m.captured_at) < (abs(best.captured_at - near),
                                                   best.captured_at):
            best = m
    return best


def wayback_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def parse_availability(body: str) -> Memento | None:
    """The `archived_snapshots.closest` copy of a Wayback availability answer, if usable."""
    try:
        data = json.loads(body)
        closest = data["archived_snapshots"]["closest"]
        if not closest.get("available", True) or str(closest.get("status", "200")) != "200":
            return None
        at = datetime.strptime(str(closest["timestamp"]), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        url = _web_url(str(closest["url"]))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    return Memento(url, at) if url else None
