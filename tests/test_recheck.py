"""Conditional rechecks on a real loopback server: validators sent, 304 judged and archived.

One store is checked twice (`check --all`). Between the passes one page changes; the
server honours validators on some URLs, ignores them on one, and answers 304 to every
request (validators or not) on another.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.store.db import to_db
from tests.conftest import MockServer
from tests.helpers import query, rotwatch, write_config

SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


def _article(words: str) -> str:
    body = "".join(f"<p>{words} paragraph {i} about the harbour ferries.</p>" for i in range(5))
    return f"<html><head><title>{words}</title></head><body><h1>{words}</h1>{body}</body></html>"


def _record(data: Path, snapshot_id: int) -> Any:
    """The WARC record a snapshot row points at, read back from its file."""
    warc_file, offset = query(data, "SELECT warc_file, warc_offset FROM snapshots "
                                    "WHERE id = ?", snapshot_id)[0]
    with open(data / "warcs" / warc_file, "rb") as fh:
        fh.seek(offset)
        record = next(iter(ArchiveIterator(fh)))
        record.content_stream().read()
        return record


@pytest.fixture(scope="module")
def passes(mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("recheck")
    name = tmp.name
    urls = {
        "same": mockserver.set_page(f"{name}-same", _article("Unchanged")) + "?validators=on",
        "changed": mockserver.set_page(f"{name}-changed", _article("Before")) + "?validators=on",
        "ignored": mockserver.url(f"/page/{name}-ignored?validators=ignore", host=2),
        "liar": mockserver.url(f"/page/{name}-liar?validators=lie", host=2),
    }
    mockserver.set_page(f"{name}-moved", _article("Moved here"))
    urls["moved"] = mockserver.url(
        "/redirect-to?code=301&url=" + quote(f"/mutable/{name}-moved?validators=on", safe=""))
    seed = tmp / "seed.md"
    seed.write_text("".join(f"- [{k}]({u})\n" for k, u in urls.items()), encoding="utf-8")
    data, config = tmp / "data", write_config(tmp / "c.toml")
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0
    first = rotwatch(data, "check", "--all", "--allow-private", config=config)
    assert first.returncode in (0, 2), first.stderr
    mockserver.set_page(f"{name}-changed", _article("After"))
    mockserver.log(1, clear=True)
    second = rotwatch(data, "check", "--all", "--allow-private", config=config)
    assert second.returncode in (0, 2), second.stderr
    return data, urls


def _checks(data: Path, url: str) -> list[tuple[Any, ...]]:
    return query(data, "SELECT c.status, c.verdict, c.snapshot_id, c.content_hash, c.reason "
                       "FROM checks c JOIN targets t ON t.id = c.target_id WHERE t.url = ? "
                       "ORDER BY c.id", url)


def test_unchanged_page_answers_304_and_is_archived_as_a_revisit_of_its_capture(
        passes: tuple[Path, dict[str, str]], mockserver: MockServer) -> None:
    data, urls = passes
    (s1, v1, snap1, hash1, _), (s2, v2, snap2, hash2, reason) = _checks(data, urls["same"])
    assert (s1, v1) == (200, "ok")
    assert (s2, v2) == (304, "ok") and "not modified" in reason
    assert hash2 == hash1  # the capture's text, not extracted again
    # ... nor read back: its hash was stored with it (archive.store.texts.same_payload)
    assert query(data, "SELECT text_hash FROM snapshots WHERE id = ?", snap1) == [(hash1,)]
    first, again = _record(data, snap1), _record(data, snap2)
    assert first.rec_type == "response"
    assert again.rec_type == "revisit"
    assert again.rec_headers.get_header("WARC-Profile") == SERVER_NOT_MODIFIED
    assert again.rec_headers.get_header("WARC-Refers-To-Target-URI") == urls["same"]
    assert again.rec_headers.get_header("WARC-Refers-To-Date") == \
        first.rec_headers.get_header("WARC-Date")
    assert again.rec_headers.get_header("WARC-Payload-Digest") == \
        first.rec_headers.get_header("WARC-Payload-Digest")
    assert again.http_headers.get_statuscode() == "304"
    # the recheck carried the validators the first answer gave
    sent = [e["headers"] for e in mockserver.log(1) if "-same" in e["path"]]
    etag = first.http_headers.get_header("ETag")
    assert etag and sent and sent[-1].get("If-None-Match") == etag
    assert query(data, "SELECT count(*) FROM targets WHERE url = ? AND validators LIKE ?",
                 urls["same"], f"%{first.rec_headers.get_header('WARC-Date')}%")[0][0] == 1


def test_changed_page_is_fetched_whole_and_its_new_validators_kept(
        passes: tuple[Path, dict[str, str]]) -> None:
    data, urls = passes
    (s1, _, _, hash1, _), (s2, v2, snap2, hash2, _) = _checks(data, urls["changed"])
    assert (s1, s2, v2) == (200, 200, "ok")
    assert hash1 != hash2
    new = _record(data, snap2)
    assert new.rec_type == "response"
    kept = json.loads(query(data, "SELECT validators FROM targets WHERE url = ?",
                            urls["changed"])[0][0])
    assert kept["etag"] == new.http_headers.get_header("ETag")
    assert kept["capture"][1] == new.rec_headers.get_header("WARC-Date")


def test_redirected_target_keeps_its_verdict_on_a_304(
        passes: tuple[Path, dict[str, str]]) -> None:
    data, urls = passes
    (s1, v1, *_), (s2, v2, *_) = _checks(data, urls["moved"])
    assert (s1, v1) == (200, "redirected") and (s2, v2) == (304, "redirected")


def test_server_that_ignores_validators_falls_back_to_an_ordinary_check(
        passes: tuple[Path, dict[str, str]]) -> None:
    data, urls = passes
    (s1, v1, _, hash1, _), (s2, v2, snap2, hash2, _) = _checks(data, urls["ignored"])
    assert (s1, v1, s2, v2) == (200, "ok", 200, "ok") and hash1 == hash2
    record = _record(data, snap2)  # the same bytes again: a digest revisit, as before
    assert record.rec_type == "revisit"
    assert record.rec_headers.get_header("WARC-Profile") != SERVER_NOT_MODIFIED


def test_304_to_a_request_without_validators_is_not_trusted(
        passes: tuple[Path, dict[str, str]]) -> None:
    data, urls = passes
    checks = _checks(data, urls["liar"])
    assert [(c[0], c[1]) for c in checks] == [(304, "not-checkable")] * 2
    assert "without validators" in checks[0][4]
    assert query(data, "SELECT validators FROM targets WHERE url = ?", urls["liar"]) == [(None,)]


def test_the_second_pass_judges_from_the_stored_summary_as_from_the_history(
        passes: tuple[Path, dict[str, str]]) -> None:
    """Pass 2 extended each target's stored policy summary by its new check instead of
    reading the history back: every target row is what the history gives (unchanged,
    changed, moved, ignored and lying servers alike), and the summary stored is the
    history's."""
    from archive.store.results import histories
    from archive.store.store import Store
    from archive.store.summaries import decode
    from core.policy import summarise
    from core.policy_config import DEFAULT_CONFIG
    from core.records import Verdict
    from rotwatch.target_updates import target_update

    data, urls = passes
    store = Store(data / "rotwatch.db")
    try:
        rows = store.db.conn.execute(
            "SELECT id, key, host, last_verdict, last_checked_at, state, state_since, "
            "consecutive_failures, first_failure_at, last_failure_at, last_ok_at, "
            "next_check_at, policy_summary FROM targets WHERE url IN "
            f"({','.join('?' * len(urls))})", list(urls.values())).fetchall()
        history = histories(store.db, [r[0] for r in rows])
    finally:
        store.close()
    assert len(rows) == len(urls)
    states = set()
    for (target_id, key, host, verdict, checked, *stored, summary) in rows:
        assert len(history[target_id]) == 2
        assert decode(summary) == summarise(history[target_id])
        want = target_update(target_id, key, host, Verdict(verdict),
                             datetime.fromisoformat(checked), history[target_id],
                             DEFAULT_CONFIG)
        assert stored == [want.state, to_db(want.state_since), want.consecutive_failures,
                          to_db(want.first_failure_at), to_db(want.last_failure_at),
                          to_db(want.last_ok_at), to_db(want.next_check_at)]
        states.add(want.state)
    assert {"alive", "moved", "blocked"} <= states
