"""Pages wait for text extraction as references to their WARC records, and the Recorder's
worker goes on archiving while a batch waits for its texts (rotwatch/lazy_text.py,
rotwatch/recorder.py).

A real store (ingested by the CLI), a real WARC directory, a real Recorder; only the
extraction worker is held back (an extractor that waits for a gate before extracting), so
"the worker is not blocked meanwhile" is shown by an archive finishing before the gate opens.
"""

from __future__ import annotations

import gzip
import sqlite3
import threading
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archive.warc.writer import SnapshotWriter
from core.exchange import Exchange
from core.policy_config import PolicyConfig
from core.records import Hop, Observation
from core.verdict import judge
from crawler.fetch.items import Outcome
from rotwatch.drift import MainText, extract_main_text
from rotwatch.main_text_worker import TextExtractor
from rotwatch.page_refs import PageRef, extract_ref
from rotwatch.recorder import Recorder
from tests.helpers import rotwatch
from tests.test_lazy_text import ART, ART_REWRITTEN, OFF, OFF_REWRITTEN

HTML = "text/html; charset=utf-8"


def _exchange(url: str, body: bytes, **headers: str) -> Exchange:
    return Exchange(url=url, method="GET", request_headers=(), status=200, reason="OK",
                    http_version="HTTP/1.1",
                    response_headers=(("Content-Type", HTML), *headers.items()),
                    body=body, truncated=False, fetched_at=datetime.now(UTC))


def test_a_reference_reads_back_the_page_the_crawl_had(tmp_path: Path) -> None:
    page = ART_REWRITTEN.encode()
    with SnapshotWriter(tmp_path) as writer:  # gzip Content-Encoding, as sent
        record = writer.write(_exchange("http://127.0.0.2/a", gzip.compress(page),
                                        **{"Content-Encoding": "gzip"}))
        live = PageRef(tmp_path, record.warc_file, record.offset, "http://127.0.0.2/a",
                       len(page), "utf-8", exact=True)
        read_live = extract_ref(live)  # the file is still being written (`.open`)
    expected = extract_main_text(page, "http://127.0.0.2/a", encoding="utf-8")
    assert read_live == expected == extract_ref(live)
    assert "lantern parade" in expected.text
    # the crawl read more than the record holds: not the same page, nothing is compared
    with pytest.raises(ValueError, match=r"holds \d+ bytes, the crawl read"):
        extract_ref(PageRef(tmp_path, record.warc_file, record.offset, "http://x/a",
                            len(page) + 1, exact=True))
    with pytest.raises(ValueError, match="cannot read the capture of http://x/b"):
        extract_ref(PageRef(tmp_path, "missing.warc.gz", 0, "http://x/b", 100))


class GatedExtractor(TextExtractor):
    """Extracts in a thread of its own once `gate` is set; counts what it was given."""

    def __init__(self) -> None:
        super().__init__(use_process=False)
        self.gate = threading.Event()
        self.refs: list[PageRef] = []
        self.bodies = 0

    def submit_ref(self, ref: PageRef) -> Future[MainText]:
        self.refs.append(ref)
        future: Future[MainText] = Future()

        def run() -> None:
            self.gate.wait()
            try:
                future.set_result(extract_ref(ref))
            except Exception as exc:
                future.set_exception(exc)

        threading.Thread(target=run, daemon=True).start()
        return future

    def submit(self, body: bytes, url: str, encoding: str | None) -> Future[MainText]:
        self.bodies += 1
        return super().submit(body, url, encoding)


def _targets(data: Path) -> dict[str, tuple[int, str, str]]:
    with sqlite3.connect(data / "rotwatch.db") as conn:
        return {url: (tid, key, host) for tid, url, key, host in conn.execute(
            "SELECT id, url, key, host FROM targets")}


def _check(recorder: Recorder, url: str, target: tuple[int, str, str], html: str) -> None:
    body = html.encode()
    record = recorder.archive(_exchange(url, body), target[0])
    observation = Observation(url=url, hops=(Hop(url, 200),), content_type=HTML,
                              title="t", text="visible text " * 50, length=len(body))
    recorder.add(Outcome(target[0], target[1], target[2], observation, judge(observation),
                         datetime.now(UTC), body=body, encoding="utf-8", warc=record))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two targets with baselines (articles archived, texts not extracted), then a check
    where both changed, recorded while the extraction worker is held back."""
    tmp = tmp_path_factory.mktemp("queue")
    urls = ["http://127.0.0.2/art", "http://127.0.0.3/off"]
    (tmp / "seed.md").write_text("".join(f"- [{u}]({u})\n" for u in urls), encoding="utf-8")
    data, warcs = tmp / "data", tmp / "data" / "warcs"
    assert rotwatch(data, "ingest", str(tmp / "seed.md")).returncode == 0
    targets = _targets(data)
    first = Recorder(data / "rotwatch.db", warcs, run_id=None, policy=PolicyConfig())
    for url, html in zip(urls, (ART, OFF), strict=True):
        _check(first, url, targets[url], html)
    first.close()
    extractor = GatedExtractor()
    recorder = Recorder(data / "rotwatch.db", warcs, run_id=None, policy=PolicyConfig(),
                        extractor=extractor)
    _check(recorder, urls[0], targets[urls[0]], ART_REWRITTEN)
    recorder.flush()  # a batch whose row waits for two texts (the page, its baseline)
    later = recorder.archive(_exchange(urls[1], OFF_REWRITTEN.encode()), targets[urls[1]][0])
    assert later is not None
    recorder.flush()
    seen: dict[str, Any] = {"data": data, "extractor": extractor, "urls": urls,
                            "archived_while_waiting": later.result(timeout=120)}
    with sqlite3.connect(data / "rotwatch.db") as conn:
        seen["checks_while_waiting"] = conn.execute("SELECT count(*) FROM checks").fetchone()
    seen["refs_while_waiting"] = list(extractor.refs)
    seen["backlog_while_waiting"] = recorder.backlog
    # (the worker is idle: it archived `later` after putting the batch to wait)
    seen["held_while_waiting"] = [(outcome.body, outcome.observation.text)
                                  for batch in recorder._waiting for outcome, _ in batch]
    extractor.gate.set()
    recorder.close()
    seen["error"] = recorder.error
    seen["backlog_after"] = recorder.backlog
    return seen


def test_the_worker_archives_on_while_a_batch_waits_for_its_texts(store: dict[str, Any]
                                                                  ) -> None:
    assert store["archived_while_waiting"] is not None
    assert store["checks_while_waiting"] == (2,)  # the first pass's; the third waits
    assert store["error"] is None


def test_the_backlog_counts_the_check_waiting_for_its_texts(store: dict[str, Any]) -> None:
    # what the crawl holds new targets back for (crawler.fetch.backlog)
    assert store["backlog_while_waiting"] == 1
    assert store["backlog_after"] == 0


def test_a_waiting_batch_holds_no_bodies_nor_page_texts(store: dict[str, Any]) -> None:
    # its rows do not record them, and texts may take long: the memory is given back
    assert store["held_while_waiting"] == [(None, "")]


def test_pages_wait_for_extraction_as_references_not_bodies(store: dict[str, Any]) -> None:
    refs = store["refs_while_waiting"]
    assert store["extractor"].bodies == 0
    # the changed page (from the record just written, cut as the crawl had it) and its
    # baseline (read as stored)
    assert sorted((r.url, not r.exact) for r in refs) == [
        (store["urls"][0], False), (store["urls"][0], True)]


def test_the_waiting_check_is_compared_once_its_texts_arrive(store: dict[str, Any]) -> None:
    with sqlite3.connect(store["data"] / "rotwatch.db") as conn:
        rows = conn.execute(
            "SELECT c.similarity, c.drifted, s.text FROM checks c JOIN targets t ON "
            "t.id = c.target_id JOIN snapshots s ON s.id = c.snapshot_id WHERE t.url = ? "
            "ORDER BY c.id", [store["urls"][0]]).fetchall()
    (_, _, baseline_text), (similarity, drifted, text) = rows
    assert drifted == 1 and similarity < 0.5
    assert "lantern parade" in text and "levee report" in baseline_text
