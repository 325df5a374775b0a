"""Which responses are a target's snapshots, and the `Exchange` each one is archived as.

The archive is fed by Scrapy's `response_downloaded` signal, which fires with the bytes as
the server sent them, before any middleware: every response of a target (each hop, and
each attempt that was retried) is archived; robots.txt and soft-404 probes are not.
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from scrapy import Request
from scrapy.http import Response

from core.exchange import ArchivedRecord, Exchange, Headers
from crawler.fetch.hops import fetch_of, update
from crawler.fetch.size_cap import truncated


def headers_of(raw: Any) -> Headers:
    return tuple((k.decode("latin-1"), v.decode("latin-1"))
                 for k, values in raw.items() for v in values)


def snapshot_of(response: Response, request: Request, max_bytes: int) -> Exchange | None:
    """The exchange to archive for this download, None when it is no target's response."""
    state = fetch_of(request)
    if state is None:
        return None  # robots.txt and soft-404 probes are not snapshots of a cited target
    validators = state.target.validators
    confirms = None
    if response.status == 304 and validators is not None \
            and validators.request_headers(request.url) and validators.capture is not None:
        confirms = validators.capture  # the capture our validators came from
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    return Exchange(
        url=response.url, method=request.method, request_headers=headers_of(request.headers),
        status=response.status, reason=reason, http_version="HTTP/1.1",
        response_headers=headers_of(response.headers), body=response.body[:max_bytes],
        truncated=truncated(response, max_bytes), fetched_at=datetime.now(UTC),
        ip_address=str(response.ip_address) if response.ip_address else None,
        confirms=confirms)


def note_archived(request: Request, record: Future[ArchivedRecord | None] | None) -> None:
    """Remember where this attempt's response went; the target's result links to it."""
    state = fetch_of(request)
    if state is not None:
        update(request, state, warc=record)
