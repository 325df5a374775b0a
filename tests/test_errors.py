"""Download failures are classified by walking the cause chain, through Twisted's wrappers."""

from __future__ import annotations

from scrapy.exceptions import DownloadFailedError
from twisted.python.failure import Failure
from twisted.web._newclient import ParseError, ResponseFailed

from core.records import ErrorKind
from crawler.fetch.download_handler import ResponseHeadersTooLarge, TargetDeadlineExceeded
from crawler.fetch.errors import classify


def _as_scrapy_delivers_it(cause: Exception) -> Exception:
    """DownloadFailedError from ResponseFailed holding a Failure: the errback's shape."""
    try:
        raise cause
    except Exception:
        failure = Failure()
    try:
        raise DownloadFailedError("download failed") from ResponseFailed([failure])
    except DownloadFailedError as exc:
        return exc


def test_invalid_status_line_is_an_invalid_response() -> None:
    bad_line = ParseError("non-integer status code", b"HTTP/1.1 OK-ish")
    kind, message = classify(_as_scrapy_delivers_it(bad_line))
    assert kind is ErrorKind.INVALID_RESPONSE
    assert message.startswith("ParseError")


def test_headers_over_the_cap_are_an_invalid_response() -> None:
    kind, message = classify(_as_scrapy_delivers_it(ResponseHeadersTooLarge("1001 lines")))
    assert kind is ErrorKind.INVALID_RESPONSE
    assert "1001 lines" in message


def test_spent_budget_is_a_timeout() -> None:
    kind, _ = classify(_as_scrapy_delivers_it(TargetDeadlineExceeded("60 s spent")))
    assert kind is ErrorKind.TIMEOUT
