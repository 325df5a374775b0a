"""Content-Encoding undone within a size cap, and what a Content-Type says. Pure.

Scrapy's HttpCompressionMiddleware is replaced by this bounded decoder so that (a) the WARC keeps
the bytes exactly as sent and (b) a decompression bomb (gzip, deflate, br or zstd, alone or
chained) inflates to at most the cap, never into memory unbounded.
"""

from __future__ import annotations

import sys
import zlib
from dataclasses import dataclass

try:  # optional codecs: advertised only when installed
    import brotli
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None
try:
    if sys.version_info >= (3, 14):
        from compression import zstd
    else:
        from backports import zstd
except ImportError:  # pragma: no cover - depends on the environment
    zstd = None  # type: ignore[assignment]


@dataclass(frozen=True)
class DecodedBody:
    data: bytes
    truncated: bool
    error: str | None = None


def accepted_encodings() -> str:
    codings = ["gzip", "deflate"]
    if brotli is not None:
        codings.append("br")
    if zstd is not None:
        codings.append("zstd")
    return ", ".join(codings)


# RFC 9659: the zstd content coding uses a window of at most 8 MiB, so a frame asking for
# more (up to 128 MiB by default, allocated up front) is refused rather than honoured.
_ZSTD_WINDOW_LOG_MAX = 23
# brotli with an output limit hands back data in steps; a step that makes no progress while
# the decoder still says "not finished" means a stuck stream, not more output to come.
_BROTLI_STALLS = 3


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> DecodedBody:
    """Undo a Content-Encoding chain ("gzip", "br", "gzip, br"…), producing at most `limit`
    bytes. The one decoder of the project: the crawl and the WARC reader both use it.

    Every coding is decoded incrementally with an output limit, so a decompression bomb
    never inflates past `limit` in memory, whichever coding or chain carries it.
    A body cut at the size cap is a cut compressed stream: what can be decoded is kept.
    An encoding that cannot be undone gives empty data and `error` says why.
    """
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    data, truncated = body[:limit], len(body) > limit
    # Codings are listed in the order they were applied: undo them last-first.
    for coding in reversed(codings):
        if coding == "identity":
            continue
        try:
            data, cut = _decode_one(coding, data, limit)
        except Exception as exc:  # zlib.error, brotli.error, ZstdError: no common base
            return DecodedBody(b"", truncated, f"cannot decode {coding} body: {exc}")
        truncated = truncated or cut
    return DecodedBody(data, truncated)


def _decode_one(coding: str, data: bytes, limit: int) -> tuple[bytes, bool]:
    """One coding undone: (at most `limit` bytes, whether output was cut at the limit)."""
    if coding in ("gzip", "x-gzip"):
        # Servers occasionally send several gzip members back to back: keep going.
        out = bytearray()
        while data and len(out) < limit:
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
            out += inflater.decompress(data, limit - len(out))
            if inflater.unconsumed_tail:  # more output than the cap allows
                return bytes(out), True
            if not inflater.eof:
                break  # a stream cut short: keep what it gave
            data = inflater.unused_data
        return bytes(out), bool(data) and len(out) >= limit
    if coding == "deflate":
        try:
            return _inflate(data, zlib.MAX_WBITS, limit)
        except zlib.error:  # "deflate" should be zlib-wrapped; many servers send it raw
            return _inflate(data, -zlib.MAX_WBITS, limit)
    if coding == "br":
        return _unbrotli(data, limit)
    if coding == "zstd":
        return _unzstd(data, limit)
    raise ValueError(f"unsupported Content-Encoding {coding!r}")


def _inflate(data: bytes, wbits: int, limit: int) -> tuple[bytes, bool]:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, limit)
    # Anything left unconsumed means the inflated size is over the cap: stop there.
    return out, bool(inflater.unconsumed_tail)


def _unbrotli(data: bytes, limit: int) -> tuple[bytes, bool]:
    if brotli is None:
        raise ValueError("brotli is not installed")
    decoder = brotli.Decompressor()
    out = bytearray()
    pending = data  # input not yet handed over; after the first call, only b"" may follow
    stalls = 0
    while len(out) < limit and not decoder.is_finished():
        if pending and decoder.can_accept_more_data():
            step, pending = pending, b""
        elif decoder.can_accept_more_data():
            break  # all input used and nothing more to give: a stream cut short
        else:
            step = b""  # the decoder holds output it could not hand back yet
        # The limit is on the buffer brotli grows, so one call gives at most about that.
        got = decoder.process(step, output_buffer_limit=limit - len(out))
        stalls = 0 if got or step else stalls + 1
        if stalls >= _BROTLI_STALLS:
            break
        out += got
    cut = len(out) > limit or (len(out) >= limit and not decoder.is_finished())
    return bytes(out[:limit]), cut


def _unzstd(data: bytes, limit: int) -> tuple[bytes, bool]:
    if zstd is None:
        raise ValueError("zstd is not installed")
    out = bytearray()
    options = {int(zstd.DecompressionParameter.window_log_max): _ZSTD_WINDOW_LOG_MAX}
    # Several frames back to back make one body, as gzip members do.
    while data and len(out) < limit:
        decoder = zstd.ZstdDecompressor(options=options)
        out += decoder.decompress(data, max_length=limit - len(out))
        if not decoder.eof:
            # needs_input False: output is waiting beyond the cap; True: a cut stream.
            return bytes(out), not decoder.needs_input
        data = decoder.unused_data
    return bytes(out), bool(data) and len(out) >= limit


TEXT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})


def media_type(content_type: str | None) -> str:
    """"text/html; charset=utf-8" → "text/html" ("" when absent)."""
    return (content_type or "").split(";")[0].strip().lower()


def is_text(content_type: str | None) -> bool:
    """A page with readable text. No Content-Type counts: browsers sniff such pages."""
    kind = media_type(content_type)
    return not kind or kind in TEXT_TYPES
