"""Handing the archive over: every record accounted for, exports in each format validated by
external tools (warcio, wacz, pywb), `show`, the CDXJ index and Robust Links.

One module-scoped data dir, crawled twice from the loopback mock server: an article whose
canonical URL is itself a target, a page on another host, a 500 that is retried then
answered (flaky), a 500 retried into a revisit of itself, a 301, and a page rewritten
between the two crawls.
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc.cdxj import index_files
from tests.conftest import MockServer
from tests.helpers import query, rotwatch, write_config
from tests.replay_env import replay_bin

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Archive:
    data: Path
    config: Path
    seed: Path
    urls: dict[str, str]


def _fetch(url: str) -> bytes:
    try:
        with _DIRECT.open(url, timeout=30) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:  # a 500 is still what the server sent
        return bytes(exc.read())


ORIGINAL = [f"The river authority said on day {i} that the levee held against the flood, "
            f"and engineers inspected section {i} of the embankment before nightfall."
            for i in range(12)]
REWRITTEN = [f"A festival of lanterns opened in the old town on evening {i}, where "
             f"musicians and cooks filled square number {i} with songs and dumplings."
             for i in range(12)]


def _page(title: str, sentences: list[str]) -> str:
    body = "".join(f"<p>{s}</p>" for s in sentences)
    return f"<html><head><title>{title}</title></head><body><article>{body}</article></body></html>"


@pytest.fixture(scope="module")
def archive(mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Archive:
    tmp = tmp_path_factory.mktemp("handover")
    tag = tmp.name
    urls = {
        "article": mockserver.url(f"/mutable/article-{tag}"),
        "page": mockserver.url(f"/page/handover-{tag}", host=2),
        "flaky": mockserver.url(f"/flaky?key={tag}&times=1", host=3),
        "error": mockserver.url("/status/500", host=1),
        "moved": mockserver.url("/redirect/301/1", host=2),
        "drift": mockserver.url(f"/mutable/drift-{tag}", host=3),
    }
    links = "".join(f'<p>See <a href="{u}">{k}</a>.</p>' for k, u in urls.items()
                    if k != "article")
    article = (f'<html><head><title>The article</title><link rel="canonical" '
               f'href="{urls["article"]}"></head><body>{links}</body></html>')
    mockserver.set_page(f"article-{tag}", article)
    mockserver.set_page(f"drift-{tag}", _page("Levee holds", ORIGINAL), host=3)
    seed = tmp / "handover-article.html"
    seed.write_text(article, encoding="utf-8")
    data, config = tmp / "data", write_config(tmp / "c.toml", retry_times=1, retry_backoff=0.1)
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0
    first = rotwatch(data, "check", "--all", "--allow-private", config=config)
    assert first.returncode in (0, 2), first.stderr
    mockserver.set_page(f"drift-{tag}", _page("Lantern festival", REWRITTEN),
                        host=3)
    second = rotwatch(data, "check", "--all", "--allow-private", config=config)
    assert second.returncode in (0, 2), second.stderr
    return Archive(data, config, seed, urls)


def _records(paths: list[Path]) -> list[dict[str, str | None]]:
    found = []
    for path in paths:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                h = record.rec_headers
                found.append({"type": record.rec_type, "uri": h.get_header("WARC-Target-URI"),
                              "date": h.get_header("WARC-Date"),
                              "digest": h.get_header("WARC-Payload-Digest"),
                              "refers_uri": h.get_header("WARC-Refers-To-Target-URI"),
                              "refers_date": h.get_header("WARC-Refers-To-Date"),
                              "status": record.http_headers.get_statuscode()
                              if record.http_headers else None})
    return found


def _warcs(data: Path) -> list[Path]:
    return sorted((data / "warcs").glob("*.warc.gz"))


def test_every_archived_record_has_a_row_and_verify_passes(archive: Archive) -> None:
    records = [r for r in _records(_warcs(archive.data)) if r["type"] in ("response", "revisit")]
    rows = query(archive.data, "SELECT url, record_type, status, capture, warc_date "
                               "FROM snapshots ORDER BY id")
    assert sorted((r["uri"], r["type"], r["date"]) for r in records) == sorted(
        (url, kind, date) for url, kind, _, _, date in rows)
    # The retried 500: an attempt row (the response) and a result row (its revisit).
    errors = [(kind, status, capture) for url, kind, status, capture, _ in rows
              if url == archive.urls["error"]]
    assert ("response", 500, "attempt") in errors and ("revisit", 500, "result") in errors
    flaky = [(status, capture) for url, _, status, capture, _ in rows
             if url == archive.urls["flaky"]]
    assert (500, "attempt") in flaky and (200, "result") in flaky
    done = rotwatch(archive.data, "verify", config=archive.config)
    assert done.returncode == 0, done.stdout + done.stderr


def test_refers_to_date_is_the_originals_warc_date(archive: Archive) -> None:
    records = _records(_warcs(archive.data))
    responses = {(r["uri"], r["date"], r["digest"]) for r in records if r["type"] == "response"}
    revisits = [r for r in records if r["type"] == "revisit"]
    assert revisits
    for r in revisits:
        assert "." in (r["refers_date"] or ""), r  # microseconds, as the original has
        assert (r["refers_uri"], r["refers_date"], r["digest"]) in responses, r


def _copy(archive: Archive, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(archive.data, data)
    return data


def test_verify_flags_what_an_export_could_not_carry(archive: Archive, tmp_path: Path
                                                     ) -> None:
    data = _copy(archive, tmp_path)
    conn = sqlite3.connect(data / "rotwatch.db")
    with conn:
        # the original of the retried 500's revisit is forgotten by the store
        conn.execute("DELETE FROM snapshots WHERE url = ? AND capture = 'attempt' AND "
                     "record_type = 'response'", [archive.urls["error"]])
        # a row pointing at bytes that are not its record
        conn.execute("UPDATE snapshots SET warc_offset = warc_offset + 7 WHERE url = ?",
                     [archive.urls["page"]])
    conn.close()
    stray = data / "warcs" / "rotwatch-stray.warc.gz"
    shutil.copy(_warcs(data)[0], stray)
    done = rotwatch(data, "verify", config=archive.config)
    assert done.returncode == 1
    out = done.stdout
    assert "refers to is not stored" in out
    assert "rotwatch-stray.warc.gz: no snapshot row names this file" in out
    assert "unreadable" in out or "stored length" in out
    target = tmp_path / "out.warc.gz"
    failed = rotwatch(data, "export", "-o", str(target), "--all-captures",
                      config=archive.config)
    assert failed.returncode == 1 and not target.exists()
    assert failed.stderr.count("\n") == 1 and "verify" in failed.stderr


def _warcio(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "warcio"), *args], capture_output=True, text=True,
                          timeout=120)


def test_export_warc_default_all_captures_and_filters(archive: Archive, tmp_path: Path
                                                      ) -> None:
    out = tmp_path / "default.warc.gz"
    done = rotwatch(archive.data, "export", "-o", str(out), config=archive.config)
    assert done.returncode == 0, done.stderr
    assert _warcio("check", str(out)).returncode == 0
    records = _records([out])
    uris = [r["uri"] for r in records if r["type"] in ("response", "revisit")]
    # one good capture per healthy target, no error page, the flaky page's answer
    assert archive.urls["error"] not in uris
    assert all(r["status"] != "500" for r in records if r["type"] != "warcinfo")
    assert archive.urls["flaky"] in uris and archive.urls["page"] in uris
    full = tmp_path / "all.warc.gz"
    done = rotwatch(archive.data, "export", "-o", str(full), "--all-captures",
                    config=archive.config)
    assert done.returncode == 0, done.stderr
    assert _warcio("check", str(full)).returncode == 0
    every = _records([full])
    assert sum(r["uri"] == archive.urls["error"] for r in every) == 4  # 2 checks x 2 tries
    changed = tmp_path / "changed.warc.gz"
    done = rotwatch(archive.data, "export", "-o", str(changed), "--state", "changed",
                    config=archive.config)
    assert done.returncode == 0, done.stderr
    assert {r["uri"] for r in _records([changed]) if r["type"] != "warcinfo"} == {
        archive.urls["drift"]}
    empty = tmp_path / "empty.warc.gz"
    done = rotwatch(archive.data, "export", "-o", str(empty), "--until", "2001-01-01",
                    config=archive.config)
    assert done.returncode == 1 and "nothing to export" in done.stderr
    assert not empty.exists()


def _wacz_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "wacz"), "validate", "-f", str(path)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def wacz(archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wacz") / "handover.wacz"
    done = rotwatch(archive.data, "export", "--format", "wacz", "-o", str(out),
                    config=archive.config)
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("extra", [(), ("--all-captures",)])
def test_wacz_validates(archive: Archive, wacz: Path, tmp_path: Path,
                        extra: tuple[str, ...]) -> None:
    out = wacz
    if extra:
        out = tmp_path / "all.wacz"
        done = rotwatch(archive.data, "export", "--format", "wacz", "-o", str(out), *extra,
                        config=archive.config)
        assert done.returncode == 0, done.stderr
    checked = _wacz_validate(out)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        assert {"archive/rotwatch-export.warc.gz", "indexes/index.cdx", "pages/pages.jsonl",
                "datapackage.json"} <= names
        assert zf.getinfo("archive/rotwatch-export.warc.gz").compress_type == zipfile.ZIP_STORED
        package = json.loads(zf.read("datapackage.json"))
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").splitlines()]
    assert package["wacz_version"] == "1.1.1" and package["rotwatch"]["version"]
    assert [s["url"] for s in package["rotwatch"]["seeds"]] == [archive.urls["article"]]
    assert pages[0]["format"] == "json-pages-1.0"
    urls = [p["url"] for p in pages[1:]]
    assert len(urls) == len(set(urls)) and archive.urls["page"] in urls  # one per target
    seed_pages = [p for p in pages[1:] if p.get("rotwatch:seed")]
    assert [p["url"] for p in seed_pages] == [archive.urls["article"]]
    assert seed_pages[0]["title"] == "The article" and seed_pages[0]["ts"].endswith("Z")


def test_interrupted_export_leaves_nothing_under_the_final_name(archive: Archive,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "killed.wacz"
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import os, signal, zipfile\n"
         "real = zipfile.ZipFile.writestr\n"
         "def die(*a, **k):\n"
         "    os.kill(os.getpid(), signal.SIGKILL)\n"
         "zipfile.ZipFile.writestr = die\n"
         "from rotwatch.cli import main\n"
         "import sys\n"
         f"sys.argv = ['rotwatch', '--data-dir', {str(archive.data)!r}, 'export', "
         f"'--format', 'wacz', '-o', {str(out)!r}]\n"
         "main()\n"], cwd=Path(__file__).resolve().parent.parent)
    assert child.wait(timeout=120) == -9
    assert not out.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def pywb(wacz: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """pywb serving the exported WACZ's WARC with rotwatch's own CDXJ index, on loopback."""
    bin_dir = replay_bin()
    root = tmp_path_factory.mktemp("pywb")
    subprocess.run([str(bin_dir / "wb-manager"), "init", "handover"], cwd=root, check=True,
                   capture_output=True, timeout=120)
    coll = root / "collections" / "handover"
    with zipfile.ZipFile(wacz) as zf:
        (coll / "archive" / "rotwatch-export.warc.gz").write_bytes(
            zf.read("archive/rotwatch-export.warc.gz"))
        # rotwatch's index, not one pywb makes: the replay proves the index too
        (coll / "indexes" / "index.cdxj").write_bytes(zf.read("indexes/index.cdx"))
    port = _free_port()
    server = subprocess.Popen([str(bin_dir / "wayback"), "-b", "127.0.0.1", "-p", str(port)],
                              cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                _DIRECT.open(base + "/handover/", timeout=5).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.1)
        yield base + "/handover"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _index(wacz: Path, url: str) -> list[tuple[str, dict[str, str]]]:
    """The export's CDXJ lines for `url`: (14-digit time, fields), oldest first."""
    with zipfile.ZipFile(wacz) as zf:
        lines = zf.read("indexes/index.cdx").decode().splitlines()
    found = [(line.split(" ")[1], json.loads(line.split(" ", 2)[2])) for line in lines]
    return sorted((ts, fields) for ts, fields in found if fields.get("url") == url)


def _replayed(pywb: str, wacz: Path, url: str) -> bytes:
    lines = _index(wacz, url)
    assert lines, f"{url} is not in the export's index"
    return _fetch(f"{pywb}/{lines[-1][0]}id_/{url}")


@pytest.mark.parametrize("name", ["flaky", "page", "article"])
def test_pywb_replays_the_export_byte_for_byte(archive: Archive, wacz: Path, pywb: str,
                                               name: str) -> None:
    url = archive.urls[name]
    # flaky: 500 first, retried into a 200; page: a revisit in the second crawl, replayed
    # through its original; article: the seed itself
    live = _fetch(url)
    assert live and _replayed(pywb, wacz, url) == live
    if name == "page":  # the latest capture is a revisit: pywb found its original
        assert _index(wacz, url)[-1][1]["mime"] == "warc/revisit"


def test_warcio_checks_every_file_in_the_data_dir(archive: Archive) -> None:
    for path in _warcs(archive.data):
        done = _warcio("check", "-v", str(path))
        assert done.returncode == 0, done.stdout


def test_the_crawl_keeps_a_cdxj_index_beside_the_warcs(archive: Archive,
                                                       tmp_path: Path) -> None:
    indexes = sorted((archive.data / "warcs" / "indexes").glob("*.cdxj"))
    assert sorted(p.name.removesuffix(".cdxj") for p in indexes) == [
        p.name for p in _warcs(archive.data)]
    lines = [line for p in indexes for line in p.read_text().splitlines()]
    records = [r for r in _records(_warcs(archive.data)) if r["type"] in ("response", "revisit")]
    assert len(lines) == len(records)
    for p in indexes:
        text = p.read_text().splitlines()
        assert text == sorted(text)
    # Written from the records as the crawl wrote them: what cdxj-indexer reads back.
    reread = tmp_path / "reread"
    reread.mkdir()
    for path in _warcs(archive.data):
        shutil.copy(path, reread / path.name)
    for p in index_files(reread, [path.name for path in _warcs(archive.data)]):
        assert p.read_text() == (archive.data / "warcs" / "indexes" / p.name).read_text()


def _show(archive: Archive, *args: str) -> subprocess.CompletedProcess[str]:
    return rotwatch(archive.data, "show", *args, config=archive.config)


def test_show_writes_the_archived_body(archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "flaky.html"
    done = _show(archive, archive.urls["flaky"], "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == _fetch(archive.urls["flaky"])  # the 200 after the retry
    # a revisit's body comes from its original
    page = tmp_path / "page.html"
    assert _show(archive, archive.urls["page"], "-o", str(page)).returncode == 0
    assert page.read_bytes() == _fetch(archive.urls["page"])
    # an archived redirect is followed to the page it led to
    moved = tmp_path / "moved.html"
    done = _show(archive, archive.urls["moved"], "-o", str(moved))
    assert done.returncode == 0 and "followed the archived redirect" in done.stderr
    assert moved.read_bytes() == _fetch(archive.urls["moved"])
    heads = _show(archive, archive.urls["error"], "--headers")
    assert heads.returncode == 0 and heads.stdout.startswith("500 ")
    assert "Content-Type: text/html" in heads.stdout
    missing = _show(archive, "http://127.0.0.9/never-archived")
    assert missing.returncode == 1 and "no capture" in missing.stderr
    assert missing.stderr.count("\n") == 1


def test_show_at_a_time_list_and_diff(archive: Archive, tmp_path: Path) -> None:
    listed = _show(archive, archive.urls["drift"], "--list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 2 and all(" 200 " in line and "sha1:" in line for line in lines)
    first_time = lines[0].split()[0]
    early = tmp_path / "early.html"
    assert _show(archive, archive.urls["drift"], "--at", first_time, "-o",
                 str(early)).returncode == 0
    assert "levee held" in early.read_text()
    latest = _show(archive, archive.urls["drift"])
    assert "lanterns" in latest.stdout and "levee" not in latest.stdout
    diff = _show(archive, archive.urls["drift"], "--diff")
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.startswith("--- baseline ")
    assert any(line.startswith("-The river authority") for line in diff.stdout.splitlines())
    assert any(line.startswith("+A festival of lanterns") for line in diff.stdout.splitlines())
    assert len(diff.stdout.splitlines()) <= 42


def test_robust_links_decorate_every_link_with_a_good_capture(archive: Archive,
                                                              tmp_path: Path) -> None:
    from bs4 import BeautifulSoup

    out = tmp_path / "article.html"
    done = rotwatch(archive.data, "export", "--format", "robustlinks", "--seed",
                    archive.seed.name, "--replay-prefix", "https://replay.example/coll/",
                    "-o", str(out), config=archive.config)
    assert done.returncode == 0, done.stderr
    anchors = {a.get_text(): a for a in BeautifulSoup(out.read_text(), "lxml")("a")}
    assert set(anchors) == {"page", "flaky", "error", "moved", "drift"}
    for name in ("page", "flaky", "moved", "drift"):
        a = anchors[name]
        assert a["data-originalurl"] == archive.urls[name] == a["href"]
        date = a["data-versiondate"]
        assert len(date) == 10 and a["data-versionurl"].startswith(
            f"https://replay.example/coll/{date.replace('-', '')}")
        assert a["data-versionurl"].endswith("/" + archive.urls[name])
    assert not anchors["error"].has_attr("data-versionurl")  # only an error page archived
    several = rotwatch(archive.data, "export", "--format", "robustlinks", "-o", str(out),
                       config=archive.config)
    assert several.returncode == 1 and "exactly one seed" in several.stderr


def test_robust_links_version_urls_replay_in_pywb(archive: Archive, wacz: Path, pywb: str,
                                                  tmp_path: Path) -> None:
    from bs4 import BeautifulSoup

    out = tmp_path / "article.html"
    done = rotwatch(archive.data, "export", "--format", "robustlinks", "--seed",
                    archive.seed.name, "--replay-prefix", pywb + "/", "-o", str(out),
                    config=archive.config)
    assert done.returncode == 0, done.stderr
    anchor = next(a for a in BeautifulSoup(out.read_text(), "lxml")("a")
                  if a.get_text() == "flaky")
    prefix, _, rest = anchor["data-versionurl"].partition(pywb + "/")
    stamp, _, url = rest.partition("/")
    assert not prefix and url == archive.urls["flaky"]
    assert _fetch(f"{pywb}/{stamp}id_/{url}") == _fetch(url)


def test_show_indexes_files_left_without_an_index(archive: Archive, tmp_path: Path) -> None:
    data = _copy(archive, tmp_path)
    shutil.rmtree(data / "warcs" / "indexes")  # a data dir from before the index, or a kill
    done = rotwatch(data, "show", archive.urls["page"], "--list", config=archive.config)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 2  # both crawls' captures
    assert sorted(p.name for p in (data / "warcs" / "indexes").iterdir()) == [
        p.name + ".cdxj" for p in _warcs(data)]
