"""The response-header caps hold exactly however a response arrives in chunks.

The download handler's parser adds up each chunk's bytes and line ends while the headers
are read and counts line by line only near the caps: a response must fail exactly when
its status and header lines pass `MAX_HEADER_LINES` or `MAX_HEADER_BYTES`, never for a body
that arrives in the same chunk as its headers. Twisted's own HTTP parser is fed the bytes
(a whole HTTP exchange over loopback is in tests/test_hostile_servers.py).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from twisted.internet.testing import StringTransport
from twisted.web._newclient import DONE, HTTPClientParser
from twisted.web._newclient import Request as TxRequest
from twisted.web.http_headers import Headers

from crawler.fetch.download_handler import (
    MAX_HEADER_BYTES,
    MAX_HEADER_LINES,
    ResponseHeadersTooLarge,
    _BoundedHTTPClientParser,
)

REQUEST = TxRequest(b"GET", b"/", Headers({b"host": [b"127.0.0.2"]}), None)


def response(header_lines: int, line_bytes: int = 20, body: bytes = b"ok") -> bytes:
    """A response with `header_lines` lines before the body (status and blank line
    included), each header line `line_bytes` long with its CRLF."""
    headers = [b"Content-Length: %d" % len(body)]
    filler = max(0, line_bytes - len(b"X-00000: \r\n"))
    headers += [b"X-%05d: %s" % (n, b"v" * filler) for n in range(header_lines - 3)]
    return b"HTTP/1.1 200 OK\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


def chunks(data: bytes, sizes: Iterator[int]) -> Iterator[bytes]:
    at = 0
    while at < len(data):
        size = next(sizes)
        yield data[at:at + size]
        at += size


def parse(data: bytes, sizes: Iterator[int]) -> HTTPClientParser:
    """Feed `data` in chunks to a parser as the download handler's protocol makes it."""
    parser = HTTPClientParser(REQUEST, lambda rest: None)
    parser.makeConnection(StringTransport())
    parser.__class__ = _BoundedHTTPClientParser
    for chunk in chunks(data, sizes):
        parser.dataReceived(chunk)
    return parser


def splits() -> list[tuple[str, Iterator[int]]]:
    rng = random.Random(13)
    return [("whole", iter(lambda: 1 << 30, None)), ("by 7 bytes", iter(lambda: 7, None)),
            ("by 1000 bytes", iter(lambda: 1000, None)),
            ("random", iter(lambda: rng.randint(1, 4000), None))]


@pytest.mark.parametrize("name, sizes", splits())
def test_header_lines_up_to_the_cap_pass_and_one_more_fails(name: str,
                                                            sizes: Iterator[int]) -> None:
    parsed = parse(response(MAX_HEADER_LINES), sizes)
    assert parsed.state == DONE and parsed.response.code == 200
    with pytest.raises(ResponseHeadersTooLarge, match=f"{MAX_HEADER_LINES + 1} lines"):
        parse(response(MAX_HEADER_LINES + 1), sizes)


@pytest.mark.parametrize("name, sizes", splits())
def test_header_bytes_up_to_the_cap_pass_and_one_more_fails(name: str,
                                                            sizes: Iterator[int]) -> None:
    # The status line, the blank line, Content-Length, then 10,000-byte header lines
    # (Twisted itself refuses a line over 16 KiB).
    fixed = len(b"HTTP/1.1 200 OK\r\n\r\nContent-Length: 2\r\n")
    lines = (MAX_HEADER_BYTES - fixed) // 10_000
    exact = response(lines + 3, 10_000)
    head = exact.index(b"\r\n\r\n") + 4
    room = MAX_HEADER_BYTES - head  # bytes one header may still grow by
    grown = exact.replace(b"X-00000: ", b"X-00000: " + b"w" * room, 1)
    assert grown.index(b"\r\n\r\n") + 4 == MAX_HEADER_BYTES
    assert parse(grown, sizes).state == DONE
    with pytest.raises(ResponseHeadersTooLarge, match=f"{MAX_HEADER_BYTES + 1} bytes"):
        parse(grown.replace(b"X-00000: ", b"X-00000: w", 1), sizes)


@pytest.mark.parametrize("name, sizes", splits())
def test_a_body_of_many_lines_in_the_headers_chunk_is_no_header(name: str,
                                                                sizes: Iterator[int]) -> None:
    """The chunk's line ends pass the cap, its header's do not: only those count."""
    body = b"line\n" * (3 * MAX_HEADER_LINES)
    parsed = parse(response(MAX_HEADER_LINES - 2, body=body), sizes)
    assert parsed.state == DONE and parsed.response.code == 200
    assert parsed.response.length == len(body)
