"""The CDXJ index a writer makes from the records it wrote is cdxj-indexer's, line for line."""

from __future__ import annotations

import json
import random
import re
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import surt

from archive.warc.cdxj import index_files, index_line, index_path, lookup, url_key
from archive.warc.writer import SnapshotWriter, _plain_headers
from core.exchange import Exchange
from core.records import Capture

WHEN = datetime(2026, 12, 1, 10, 30, 5, 123456, tzinfo=UTC)


def _exchange(n: int, body: bytes, *, headers: tuple[tuple[str, str], ...] = (
        ("Content-Type", "text/html; charset=utf-8"),), status: int = 200,
        url: str | None = None, confirms: Capture | None = None) -> Exchange:
    return Exchange(
        url=url or f"http://127.0.0.2:8080/page/{n}?b=2&a=1", method="GET",
        request_headers=(("User-Agent", "rotwatch"),), status=status, reason="OK",
        http_version="HTTP/1.1", response_headers=headers, body=body, truncated=False,
        fetched_at=WHEN + timedelta(seconds=n), ip_address="127.0.0.2", confirms=confirms)


def _exchanges() -> list[Exchange]:
    first = Capture("http://127.0.0.2:8080/page/0?b=2&a=1", "2026-12-01T10:30:05.123456Z",
                    "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    return [
        _exchange(0, b"<html>zero</html>"),
        _exchange(1, b"<html>zero</html>", url="http://127.0.0.3/same-payload"),  # revisit
        _exchange(2, b"", status=301, headers=(("Location", "/x"),)),  # no Content-Type
        _exchange(3, b"png", headers=(("content-TYPE", "  Image/PNG ;q=1"),)),
        _exchange(4, b"nf", status=404, headers=(("Content-Type", ""),)),
        _exchange(5, b"", status=304, headers=(("ETag", '"e"'),), confirms=first),
        _exchange(6, b"x" * 3000, url="http://127.0.0.2:8080/%7Euser/caf%C3%A9#frag"),
        _exchange(7, b"two", headers=(("Content-Type", "text/plain"),
                                      ("Content-Type", "text/html"))),
    ]


def _indexes(directory: Path, names: list[str]) -> dict[str, str]:
    return {name: index_path(directory, name).read_text(encoding="utf-8") for name in names}


def _by_cdxj_indexer(directory: Path, names: list[str], tmp: Path) -> dict[str, str]:
    other = tmp / "reindexed"
    other.mkdir()
    for name in names:
        shutil.copy(directory / name, other / name)
    index_files(other, names)
    return _indexes(other, names)


def test_the_writers_index_is_cdxj_indexers(tmp_path: Path) -> None:
    directory = tmp_path / "warcs"
    # Small files: the exchanges spread over several, each indexed on its own.
    with SnapshotWriter(directory, index=True, max_file_bytes=4000) as writer:
        for exchange in _exchanges():
            writer.write(exchange)
    names = writer.files_written
    assert len(names) > 1
    ours = _indexes(directory, names)
    assert ours == _by_cdxj_indexer(directory, names, tmp_path)
    assert sum(len(text.splitlines()) for text in ours.values()) == len(_exchanges())
    found = lookup(directory, "http://127.0.0.3/same-payload")
    assert [(e.mime, e.status) for e in found] == [("warc/revisit", 200)]


def test_headers_that_only_reading_back_can_index_go_to_cdxj_indexer(tmp_path: Path) -> None:
    directory = tmp_path / "warcs"
    with SnapshotWriter(directory, index=True) as writer:
        writer.write(_exchange(0, b"a"))
        # warcio percent-encodes a non-ASCII value; a leading space is a continuation line
        writer.write(_exchange(1, b"b", headers=(("Content-Type", "text/html; name=café"),)))
        writer.write(_exchange(2, b"c", headers=((" Content-Type", "text/html"),)))
    names = writer.files_written
    assert _indexes(directory, names) == _by_cdxj_indexer(directory, names, tmp_path)


def test_plain_headers_are_token_names_with_printable_ascii_values() -> None:
    """Names found to be tokens are remembered; every response's names and values are
    still each checked."""
    plain = (("Content-Type", "text/html"), ("X-Thing", "a b"))
    assert _plain_headers(plain) and _plain_headers(plain)  # the second time, remembered
    assert not _plain_headers((*plain, ("Content-Type", "caf\u00e9")))
    assert not _plain_headers((*plain, ("X-Thing", "tab\there")))
    assert not _plain_headers((*plain, (" Content-Type", "text/html")))
    assert not _plain_headers((*plain, ("Bad:Name", "x")))
    assert not _plain_headers((*plain, ("Bad Name", "x")))


def test_without_index_no_index_is_written(tmp_path: Path) -> None:
    with SnapshotWriter(tmp_path / "warcs") as writer:
        writer.write(_exchange(0, b"a"))
    assert not (tmp_path / "warcs" / "indexes").exists()


def test_url_keys_are_surts_of_the_url() -> None:
    """`url_key`'s own keys for plain URLs (origin, path, query and fragment taken apart
    as surt takes them) equal surt's key exactly: explicit edge cases, then generated
    URLs, plain and not, with and without queries and fragments."""
    def want(url: str) -> str:
        try:
            return str(surt.surt(url))
        except Exception:
            return url

    cases = ["http://127.0.0.2:8080/bench/200/7", "https://www.Example.com/A/b/", "http://h",
             "http://h/", "http://h:80/x/", "https://h:443/Index.HTML", "http://WWW2.x.org./a",
             "http://h/./a", "http://h/a/../b", "http://h//a", "http://h/a?b=1", "http://h/a#f",
             "http://h/%41", "http://u@h/a", "HTTP://H/A", "http://h..i/x", "http://1.2.3/x~",
             "http://127.0.0.2:8080/bench/200/7?kb=40", "http://h?b=2&a=1", "http://h/?",
             "http://h/a?#f", "http://h/a#f?x=1", "http://h/a?B=2&a=1&a&a=&=x&&",
             "http://h/a?jsessionid=0123456789abcdef0123456789ABCDEF",
             "http://h/a?x=1&PHPSESSID=0123456789abcdef0123456789abcdef&y=2",
             "http://h/a?cfid=1&cftoken=2&z", "http://h/a?aspsessionidabcdefgh=x",
             "http://h/a?q=%41", "http://h/a?q=a+b", "http://h/a?q=é", "http://h:0/a",
             "http://h:08080/a", "http://h:65536/a", "http://h:65535/a", "http://h:/a",
             "http://0.1.2.3/a", "http://127.0.0.01/a", "http://255.255.255.255/a",
             "http://2130706434/a", "http://www.com/a", "http://www/a", "https://x:80/a",
             "http://h/a#\n", "http://h/a# x ", "http://h/a?x=1 ", "http://h/a?x=1\n",
             "http://http://h/a", "http://h/a?x=1#y?z=2"]
    rng = random.Random(13)
    hosts = ["127.0.0.2:8080", "Example.COM", "www.example.com", "www2.ex.com:443", "h:80",
             "x-y.org:8443", "WWW.x.org.", "1.2.3", "h..i", "256.1.1.1", "-a-.com", ":80",
             "10.0.0.1", "1e5.x", "xn--bcher-kva.de", "00.1.2.3", "www12.a.b:80"]
    for _ in range(5000):
        segments = ("".join(rng.choice("aB0_.~-Zq%;?#=é") for _ in range(rng.randint(0, 5)))
                    for _ in range(rng.randint(0, 4)))
        query = "".join(rng.choice("aB0_.~-=&=&sid%+#?é ") for _ in range(rng.randint(0, 12)))
        fragment = "".join(rng.choice("a#?\t é/") for _ in range(rng.randint(0, 4)))
        cases.append(f"{rng.choice(['http', 'https', 'ftp'])}://{rng.choice(hosts)}/"
                     + "/".join(segments) + rng.choice(["", "?", "?" + query])
                     + rng.choice(["", "#" + fragment]))
    assert [url_key(u) for u in cases] == [want(u) for u in cases]


def test_index_line_timestamps_are_strftimes_of_utc() -> None:
    """The per-second cache gives cdxj-indexer's 14-digit UTC stamp for any moment."""
    start = datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC)
    moments = [start + timedelta(microseconds=317_001 * i) for i in range(40)]
    moments += [m.astimezone(timezone(timedelta(hours=5, minutes=30))) for m in moments]
    for moment in moments:
        line = index_line("http://127.0.0.2/a", moment, 200, "text/html", "sha1:X",
                          "f.warc.gz", 0, 10)
        assert line.split(" ")[1] == moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def test_index_line_fields_are_what_json_dumps_writes() -> None:
    """The JSON part is json.dumps's (separators, order, escapes) for any values."""
    odd = ["http://127.0.0.2/a", 'http://h/"q"\\x', "http://h/caf\u00e9?\u2603=1",
           "http://h/a\tb\x01", "http://h/\U0001f600"]
    mimes: list[str | None] = [None, "text/html; charset=utf-8", " application/json ",
                               'text/"x"', "text/caf\u00e9;a", "image/png\tx"]
    for n, url in enumerate(odd):
        for mime in mimes:
            line = index_line(url, datetime(2026, 12, 1, tzinfo=UTC), 200 + n, mime,
                              f"sha1:{url[-3:]}", f"f-{url[-2:]}.warc.gz", 7 * n, 11 + n)
            fields: dict[str, str] = {"url": url}
            if mime is not None:
                fields["mime"] = re.split(r"[;\s]", mime.strip(), maxsplit=1)[0].strip()
            fields |= {"status": str(200 + n), "digest": f"sha1:{url[-3:]}",
                       "length": str(11 + n), "offset": str(7 * n),
                       "filename": f"f-{url[-2:]}.warc.gz"}
            assert line.split(" ", 2)[2] == json.dumps(fields) + "\n"
