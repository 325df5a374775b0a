"""The bytes the hostile server sends: compression bombs, raw response heads, robots.txt
rules by the megabyte. The listeners are in tests/hostile_server.py."""

from __future__ import annotations

import asyncio
import threading
import zlib

import brotli
from backports import zstd

MIB = 1024 * 1024


class Bombs:
    """The four bombs, each `mb` MiB of one page inflated, compressed once in a thread."""

    def __init__(self, mb: int) -> None:
        self.mb = mb
        self.done = threading.Event()
        self.data: dict[str, bytes] = {}

    def build(self) -> None:
        # Compressed piece by piece, so the server never holds the inflated size itself.
        raw = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        br = brotli.Compressor(quality=5)
        zs = zstd.ZstdCompressor(level=3)
        parts: dict[str, list[bytes]] = {c: [] for c in ("raw", "br", "zstd")}
        crc, adler, size = 0, 1, 0
        pieces = [b"<!doctype html><title>bomb</title><p>"] + [b" " * MIB] * self.mb
        for piece in pieces:
            crc, adler, size = zlib.crc32(piece, crc), zlib.adler32(piece, adler), size + len(piece)
            parts["raw"].append(raw.compress(piece))
            parts["br"].append(br.process(piece))
            parts["zstd"].append(zs.compress(piece))
        deflated = b"".join(parts["raw"]) + raw.flush()
        self.data["gzip"] = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + deflated
                             + crc.to_bytes(4, "little") + (size % 2**32).to_bytes(4, "little"))
        self.data["deflate"] = b"\x78\xda" + deflated + adler.to_bytes(4, "big")
        self.data["br"] = b"".join(parts["br"]) + br.finish()
        self.data["zstd"] = b"".join(parts["zstd"]) + zs.flush()
        self.done.set()

    async def get(self, coding: str) -> bytes:
        while not self.done.is_set():
            await asyncio.sleep(0.05)
        return self.data[coding]


def head(status: str, *headers: tuple[str, str | int]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def page(body: bytes, content_type: str = "text/html; charset=utf-8",
         status: str = "200 OK") -> bytes:
    return head(status, ("Content-Type", content_type), ("Content-Length", len(body)),
                ("Connection", "close")) + body


def redirect(location: str) -> bytes:
    return head("302 Found", ("Location", location), ("Content-Length", 0),
                ("Connection", "close"))


async def fill_rules(w: asyncio.StreamWriter, size: int) -> None:
    """Exactly `size` bytes of whole robots.txt lines: many rules, then a comment to fit."""
    n = 0
    while size > 64:
        block = b"".join(b"Disallow: /never/%d/\n" % i for i in range(n, n + 4000))
        block = block[: block.rfind(b"\n", 0, size - 64) + 1]
        if not block:
            break
        w.write(block)
        await w.drain()
        size, n = size - len(block), n + 4000
    w.write(b"#" + b"-" * (size - 2) + b"\n" if size >= 2 else b"\n" * size)
