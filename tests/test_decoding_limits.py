"""Content-Encoding bombs stay bounded: in the decoder, in the WARC reader and in a crawl.

Every bomb here is real: 64-200 MiB of spaces compressed in the test (br at quality 5 and
zstd at level 3 take a fraction of a second and a few KB). The decoder must never hand
back more than its limit, and must never hold much more than that in memory on the way.
"""

from __future__ import annotations

import gzip
import random
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import brotli
import pytest

from archive.warc.writer import Exchange, SnapshotWriter, read_response
from core.content_coding import accepted_encodings, decode_body
from tests.conftest import MockServer
from tests.helpers import REPO_ROOT, latest_checks, query, rotwatch, write_config

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

MIB = 1 << 20
LIMIT = 1_000_000
# Generous: the decoder may hold its output and one copy of it, plus interpreter noise.
MEMORY_BUDGET = 4 * LIMIT + 20 * MIB
HEAD = b"<!DOCTYPE html><html><head><title>Bomb</title></head><body>"


def _stream(compress: Callable[[bytes], bytes], finish: Callable[[], bytes], mib: int) -> bytes:
    block = b" " * MIB
    return b"".join([compress(HEAD), *(compress(block) for _ in range(mib)), finish()])


def br_bomb(mib: int = 200) -> bytes:
    c = brotli.Compressor(quality=5)
    return _stream(c.process, c.finish, mib)


def zstd_bomb(mib: int = 200) -> bytes:
    c = zstd.ZstdCompressor(level=3)
    return _stream(c.compress, c.flush, mib)


def zlib_bomb(wbits: int, mib: int = 64) -> bytes:
    # Level 1: zlib's level 9 would take seconds over 64 MiB for no better test.
    c = zlib.compressobj(1, zlib.DEFLATED, wbits)
    return _stream(c.compress, c.flush, mib)


def _bombs() -> dict[str, bytes]:
    gz = zlib_bomb(31)
    return {
        "gzip": gz,
        "x-gzip": gz,
        "deflate": zlib_bomb(zlib.MAX_WBITS),  # zlib-wrapped, as the RFC says
        "deflate-raw": zlib_bomb(-zlib.MAX_WBITS),  # what many servers send instead
        "br": br_bomb(),
        "zstd": zstd_bomb(),
        # Codings are listed in the order applied: "gzip, br" is br(gzip(page)).
        "gzip, br": brotli.compress(gz, quality=5),
        "br, zstd": zstd.compress(br_bomb()),
        "br, br": brotli.compress(br_bomb(), quality=5),
    }


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return _bombs()


def _header(name: str) -> str:
    return "deflate" if name == "deflate-raw" else name


@pytest.mark.parametrize("name", ["gzip", "x-gzip", "deflate", "deflate-raw", "br", "zstd",
                                  "gzip, br", "br, zstd", "br, br"])
def test_a_bomb_inflates_to_the_limit_and_no_further(bombs: dict[str, bytes],
                                                     name: str) -> None:
    body = bombs[name]
    assert len(body) < LIMIT  # the body itself is under the cap: only inflating is the risk
    tracemalloc.start()
    try:
        started = time.monotonic()
        result = decode_body(body, _header(name), LIMIT)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.error is None
    assert result.truncated
    assert len(result.data) == LIMIT
    assert result.data.startswith(HEAD) and result.data[-1:] == b" "
    assert peak < MEMORY_BUDGET, f"{name}: peak {peak / MIB:.1f} MiB"
    assert elapsed < 10, f"{name}: {elapsed:.1f} s"  # ~0.01 s measured; 200 MiB whole is ~1 s


PAGE = HEAD + b"x" * 50_000 + b"</body></html>"


def _encoders() -> dict[str, Callable[[bytes], bytes]]:
    return {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "deflate-raw": lambda d: zlib.compress(d, wbits=-zlib.MAX_WBITS),
        "br": brotli.compress,
        "zstd": zstd.compress,
    }


@pytest.mark.parametrize("name", ["gzip", "deflate", "deflate-raw", "br", "zstd"])
def test_an_honest_body_round_trips(name: str) -> None:
    encoded = _encoders()[name](PAGE)
    assert decode_body(encoded, _header(name), LIMIT) == decode_body(PAGE, None, LIMIT)
    result = decode_body(encoded, _header(name), LIMIT)
    assert result.data == PAGE and not result.truncated and result.error is None
    exact = decode_body(encoded, _header(name), len(PAGE))  # a page exactly at the cap is whole
    assert exact.data == PAGE and not exact.truncated


@pytest.mark.parametrize("name", ["gzip", "br", "zstd"])
def test_a_cut_stream_keeps_what_decodes(name: str) -> None:
    page = HEAD + random.Random(8).randbytes(200_000)  # incompressible: a cut loses little
    encoded = _encoders()[name](page)
    result = decode_body(encoded[: len(encoded) // 2], name, LIMIT)
    assert result.error is None
    assert 0 < len(result.data) < len(page) and page.startswith(result.data)


@pytest.mark.parametrize("name", ["gzip", "zstd"])
def test_members_and_frames_back_to_back_are_all_decoded(name: str) -> None:
    encode = _encoders()[name]
    result = decode_body(encode(b"one ") + encode(b"two"), name, LIMIT)
    assert result.data == b"one two" and not result.truncated


def test_a_chain_is_undone_last_first() -> None:
    body = zstd.compress(brotli.compress(gzip.compress(PAGE)))
    result = decode_body(body, "gzip, br, zstd", LIMIT)
    assert result.data == PAGE and result.error is None


@pytest.mark.parametrize("name", ["gzip", "deflate", "br", "zstd"])
def test_garbage_is_an_error_not_a_crash(name: str) -> None:
    result = decode_body(b"this is not compressed at all" * 10, name, LIMIT)
    assert result.error is not None and name in result.error and result.data == b""


def test_zstd_frames_with_a_window_over_8_mib_are_refused() -> None:
    # RFC 9659: a zstd content coding uses at most an 8 MiB window, so a decoder never
    # has to allocate more for it; a frame asking for 128 MiB is an attack on memory.
    window_log = int(zstd.CompressionParameter.window_log)
    big_window = zstd.compress(b" " * (16 * MIB), options={window_log: 27})
    result = decode_body(big_window, "zstd", LIMIT)
    assert result.error is not None and result.data == b""
    small_window = zstd.compress(b" " * (16 * MIB), options={window_log: 23})
    assert len(decode_body(small_window, "zstd", LIMIT).data) == LIMIT


def test_zstd_is_advertised() -> None:
    assert [c.strip() for c in accepted_encodings().split(",")] == ["gzip", "deflate", "br",
                                                                     "zstd"]


# --------------------------------------------------------------------------- WARC reader


def _store(directory: Path, coding: str, body: bytes) -> tuple[str, int]:
    moment = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    with SnapshotWriter(directory) as writer:
        record = writer.write(Exchange(
            url=f"http://bomb.example/{coding}", method="GET", request_headers=(),
            status=200, reason="OK", http_version="HTTP/1.1",
            response_headers=(("Content-Encoding", coding), ("Content-Type", "text/html")),
            body=body, truncated=False, fetched_at=moment))
    return record.warc_file, record.offset


@pytest.mark.parametrize("coding", ["br", "zstd"])
def test_reading_back_a_stored_bomb_is_bounded(tmp_path: Path, bombs: dict[str, bytes],
                                               coding: str) -> None:
    warc_file, offset = _store(tmp_path, coding, bombs[coding])
    tracemalloc.start()
    try:
        stored = read_response(tmp_path, warc_file, offset, limit=LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.decoded and len(stored.payload) == LIMIT
    assert stored.payload.startswith(HEAD)
    assert peak < MEMORY_BUDGET, f"{coding}: peak {peak / MIB:.1f} MiB"


# --------------------------------------------------------------------------- crawl

# Runs the crawl as a grandchild and reports the largest RSS among the processes it waited
# for (RUSAGE_CHILDREN covers the crawl and any shard processes it started).
_RSS_WRAPPER = textwrap.dedent("""
    import resource, subprocess, sys
    code = subprocess.run(sys.argv[2:], stdin=subprocess.DEVNULL).returncode
    with open(sys.argv[1], "w") as out:
        out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
    sys.exit(code)
""")


def _crawl_peak_rss(data: Path, config: Path, rss_file: Path) -> tuple[int, int]:
    command = [sys.executable, "-c", _RSS_WRAPPER, str(rss_file), sys.executable, "-m",
               "rotwatch", "--data-dir", str(data), "--config", str(config), "check",
               "--allow-private"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=REPO_ROOT)
    return done.returncode, int(rss_file.read_text()) * 1024  # ru_maxrss is in KiB on Linux


@dataclass(frozen=True)
class BombCrawl:
    urls: dict[str, str]
    data: Path
    code: int
    rss: int  # bytes
    elapsed: float


@pytest.fixture(scope="module")
def bomb_crawl(mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory) -> BombCrawl:
    base = tmp_path_factory.mktemp("bomb-crawl")
    urls = {"br": mockserver.url("/br-bomb?mb=400", host=2),
            "zstd": mockserver.url("/zstd-bomb?mb=400", host=1),
            "ok": mockserver.url("/real/article", host=3)}
    seed = base / "seed.md"
    seed.write_text("".join(f"- [{n}]({u})\n" for n, u in urls.items()), encoding="utf-8")
    config = write_config(base / "rotwatch.toml", processes=1, max_mb=1)
    data = base / "data"
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0
    started = time.monotonic()
    code, rss = _crawl_peak_rss(data, config, base / "rss")
    return BombCrawl(urls, data, code, rss, time.monotonic() - started)


def test_a_crawl_of_bombs_records_truncated_verdicts(bomb_crawl: BombCrawl) -> None:
    checks = latest_checks(bomb_crawl.data)
    assert bomb_crawl.code == 0, checks
    for name in ("br", "zstd"):
        check = checks[bomb_crawl.urls[name]]
        assert check["verdict"] == "ok", (name, check["reason"], check["error_message"])
        assert check["truncated"] == 1, name
    assert checks[bomb_crawl.urls["ok"]]["verdict"] == "ok"  # the other host's work went on
    # The WARC keeps the bytes as sent (a few KB); reading them back is bounded as well.
    rows = query(bomb_crawl.data, "SELECT url, warc_file, warc_offset FROM snapshots")
    bombs = [(f, o) for url, f, o in rows if "bomb" in url]
    assert len(bombs) == 2
    for warc_file, offset in bombs:
        stored = read_response(bomb_crawl.data / "warcs", warc_file, offset, limit=LIMIT)
        assert stored.decoded and len(stored.payload) == LIMIT


def test_a_crawl_of_bombs_stays_within_its_memory_budget(bomb_crawl: BombCrawl) -> None:
    # Measured: 97 MiB peak for this crawl; 893 MiB before br/zstd were decoded with a limit.
    assert bomb_crawl.rss < 300 * MIB, f"peak RSS {bomb_crawl.rss / MIB:.0f} MiB"
    assert bomb_crawl.elapsed < 90, f"{bomb_crawl.elapsed:.0f} s"
