"""Which responses are a target's snapshots, and the `Exchange` each one is archived as.

The archive is fed by Scrapy's `response_downloaded` signal, which fires with the bytes as
the server sent them, before any middleware: every response of a target (each hop, and
each attempt that was retried) is archived; robots.txt and soft-404 probes are not.
"""

from __future__ import annotations

from concurrent.futures import Future
from datetime import UTC, datetime
from functools import lru_cache
from http import HTTPStatus
from typing import Any

from scrapy import Request
from scrapy.http import Response

from core.exchange import ArchivedRecord, Exchange, Headers
from crawler.fetch.hops import fetch_of, update
from crawler.fetch.size_cap import truncated

# Request.meta key: the pairs of the response this request got, with that response's
# headers object (a retry copies meta; the identity check keeps it from reusing them).
_RESPONSE_HEADERS = "rw_response_headers"


def headers_of(raw: Any) -> Headers:
    """Scrapy headers as (name, value) str pairs, in order, one pair per value.

    Read from the dict Scrapy keeps (title-cased name -> list of values): its `items()`
    normalises every name again to look it up."""
    return tuple([(k.decode("latin-1"), v.decode("latin-1"))
                  for k, values in dict.items(raw) for v in values])


def response_headers(response: Response, meta: dict[str, Any]) -> Headers:
    """`headers_of(response.headers)`, made once per response: the archive (at
    response_downloaded) and the spider's observation (in parse) both need them."""
    raw = response.headers
    cached = meta.get(_RESPONSE_HEADERS)
    if cached is not None and cached[0] is raw:
        return cached[1]
    pairs = headers_of(raw)
    meta[_RESPONSE_HEADERS] = (raw, pairs)
    return pairs


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
    return Exchange(
        url=response.url, method=request.method, request_headers=headers_of(request.headers),
        status=response.status, reason=_reason(response.status), http_version="HTTP/1.1",
        response_headers=response_headers(response, request.meta), body=response.body[:max_bytes],
        truncated=truncated(response, max_bytes), fetched_at=datetime.now(UTC),
        ip_address=_address(response.ip_address) if response.ip_address else None,
        confirms=confirms)


@lru_cache(maxsize=128)
def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@lru_cache(maxsize=1024)
def _address(address: Any) -> str:
    return str(address)  # formatting an ipaddress object costs more than the lookup


def note_archived(request: Request, record: Future[ArchivedRecord | None] | None) -> None:
    """Remember where this attempt's response went; the target's result links to it."""
    state = fetch_of(request)
    if state is not None:
        update(request, state, warc=record)
