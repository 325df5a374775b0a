"""WARC records written straight to gzip members: the crawl's hot path, without warcio.

warcio builds each record through several objects, hashes the block a second time and
compresses at level 9; a checked link writes two records, so that was a fifth of the
crawl's recording cost. This writes the same bytes (headers in warcio's order, the same
digests; tests/test_warc.py compares the two) for exchanges whose HTTP headers are ASCII;
archive.warc.records falls back to warcio for the rare others (RFC 8187 encoding).
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Sequence

# zlib's default level: within a few percent of level 9's size on HTML, several times
# faster on large pages.
GZIP_LEVEL = 6
_GZIP_WBITS = 31  # a gzip member, as WARC readers expect


def http_block(first_line: str, headers: Sequence[tuple[str, str]]) -> bytes | None:
    """An HTTP message head as archived, or None when it is not plain ASCII."""
    text = first_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        return None


def sha1_digest(*parts: bytes) -> str:
    hasher = hashlib.sha1()
    for part in parts:
        hasher.update(part)
    return "sha1:" + base64.b32encode(hasher.digest()).decode("ascii")


def record(warc_headers: list[tuple[str, str]], content_type: str, head: bytes,
           payload: bytes = b"") -> bytes:
    """One WARC/1.1 record as a gzip member: `head` (+ `payload`) is its block.

    Adds WARC-Block-Digest, Content-Type and Content-Length after the given headers, in
    that order, as warcio does.
    """
    block_length = len(head) + len(payload)
    fields = [*warc_headers, ("WARC-Block-Digest", sha1_digest(head, payload)),
              ("Content-Type", content_type), ("Content-Length", str(block_length))]
    header = ("WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n")
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
    # Compressed piece by piece: the payload is never copied into a joined buffer.
    parts = [compressor.compress(header.encode("utf-8")), compressor.compress(head)]
    if payload:
        parts.append(compressor.compress(payload))
    parts += [compressor.compress(b"\r\n\r\n"), compressor.flush()]
    return b"".join(parts)
