"""Gathering a shard into a real store (no nodes needed): once per (run, shard), and what two
vantages' checks of one link conclude (core/vantage.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.store import Store
from archive.store.fleet import FleetSide, ShardState
from core.exchange import ArchivedRecord
from core.operator_rules import AcceptRule
from core.policy_config import DEFAULT_CONFIG
from core.records import (
    Capture,
    DueTarget,
    ErrorKind,
    Hop,
    Judgement,
    Observation,
    Validators,
    Verdict,
)
from core.vantage import Seen, needs_confirmation, reconcile
from rotwatch.cluster.gather import BadResults, Pair, ResultsFile, ingest
from rotwatch.cluster.results import NodeCapture, NodeResult, from_json, to_json
from rotwatch.cluster.shared_dir import AttemptDir, read_targets, write_targets
from rotwatch.ingest import ingest_paths

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _result(target_id: int, url: str, verdict: Verdict, vantage: str,
            at: datetime = NOW) -> NodeResult:
    if verdict.is_healthy:
        obs = Observation(url=url, hops=(Hop(url, 200),), content_type="text/html",
                          title="T", text="hello")
    else:
        obs = Observation(url=url, error=ErrorKind.TIMEOUT, error_message="timed out")
    return NodeResult(target_id, url, "example.org", at, obs,
                      Judgement(verdict, f"{verdict.value} reason"), vantage,
                      main_title="T" if verdict.is_healthy else None,
                      main_text="hello" if verdict.is_healthy else None)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    seed = tmp_path / "seed.md"
    seed.write_text("# S\n\n- [a](https://example.org/a)\n- [b](https://example.org/b)\n",
                    encoding="utf-8")
    path = tmp_path / "rotwatch.db"
    with Store(path) as store:
        ingest_paths(store, [str(seed)], now=NOW - timedelta(days=1),
                     max_seed_bytes=1_000_000)
        run_id = store.start_run("check", "manual", 1, NOW)
        fleet = FleetSide(store.db)
        store.transaction(lambda: fleet.put_shard(run_id, "s0", node="n", job_id="j",
                                                  attempt=0, status=ShardState.SCHEDULED,
                                                  targets=2, now=NOW))
    return path


def _targets(path: Path) -> dict[str, int]:
    with Store(path) as store:
        return {url: id_ for id_, url in store.db.conn.execute("SELECT id, url FROM targets")}


def test_a_shard_ingested_twice_is_recorded_once(store_path: Path) -> None:
    ids = _targets(store_path)
    results = [_result(ids[u], u, Verdict.OK, "eu") for u in ids]
    first = ingest(store_path, 1, "s0", policy=DEFAULT_CONFIG, now=NOW, results=results)
    again = ingest(store_path, 1, "s0", policy=DEFAULT_CONFIG, now=NOW, results=results)
    assert first is not None and again is None
    assert (first.recorded, first.held, first.verdicts) == (2, [], {"ok": 2})
    with Store(store_path) as store:
        rows = store.db.conn.execute("SELECT verdict, vantage FROM checks").fetchall()
        assert rows == [("ok", "eu"), ("ok", "eu")]
        assert FleetSide(store.db).shard_state(1, "s0") is ShardState.INGESTED
        states = {s for (s,) in store.db.conn.execute("SELECT state FROM targets")}
        assert states == {"alive"}


def test_held_results_wait_and_a_pair_records_both_vantages(store_path: Path) -> None:
    ids = _targets(store_path)
    a, b = sorted(ids)
    results = [_result(ids[a], a, Verdict.OK, "eu"), _result(ids[b], b, Verdict.TIMEOUT, "eu")]
    outcome = ingest(store_path, 1, "s0", policy=DEFAULT_CONFIG, now=NOW, results=results,
                     hold=lambda r: needs_confirmation(r.judgement.verdict))
    assert outcome is not None and outcome.recorded == 1
    held = outcome.held
    assert [h.target_id for h in held] == [ids[b]] and outcome.verdicts == {"ok": 1}
    second = _result(ids[b], b, Verdict.OK, "us", at=NOW + timedelta(seconds=30))
    paired = ingest(store_path, 1, "cs0", policy=DEFAULT_CONFIG, now=NOW,
                    pairs=[Pair(held[0], second)])
    assert paired is not None and paired.recorded == 2 and paired.verdicts == {"timeout": 1}
    with Store(store_path) as store:
        history = store.db.conn.execute(
            "SELECT verdict, vantage, reason FROM checks WHERE target_id = ? ORDER BY "
            "checked_at, id", [ids[b]]).fetchall()
        state = store.db.conn.execute("SELECT state FROM targets WHERE id = ?",
                                      [ids[b]]).fetchone()[0]
    assert [(v, w) for v, w, _ in history] == [("ok", "us"), ("blocked", "eu")]
    assert history[1][2] == "regional: timeout from eu (timeout reason); ok from us"
    assert state == "blocked"


def test_two_failing_vantages_count_one_failure() -> None:
    first = Seen("eu", Judgement(Verdict.DNS_FAILURE, "no such host"))
    second = Seen("us", Judgement(Verdict.DNS_FAILURE, "no such host"))
    outcome = reconcile(first, second)
    assert not outcome.record_second
    assert outcome.first == Judgement(Verdict.DNS_FAILURE,
                                      "no such host (also dns-failure from us)")


@pytest.mark.parametrize("verdict", list(Verdict))
def test_which_verdicts_need_a_second_vantage(verdict: Verdict) -> None:
    expected = verdict.value in {"dns-failure", "timeout", "connection-failed", "tls-error",
                                 "broken", "blocked"}
    assert needs_confirmation(verdict) is expected


def test_a_results_file_that_is_short_or_broken_is_refused(tmp_path: Path) -> None:
    attempt = AttemptDir(tmp_path)
    line = json.dumps(to_json(_result(7, "https://example.org/a", Verdict.OK, "eu")))
    attempt.items.write_text(line + "\n", encoding="utf-8")
    assert len(list(ResultsFile(attempt, 1))) == 1
    with pytest.raises(BadResults, match=r"1 results, done\.json says 2"):
        list(ResultsFile(attempt, 2))
    attempt.items.write_text(line + "\n" + line[:40] + "\n", encoding="utf-8")
    with pytest.raises(BadResults, match="result 2"):
        list(ResultsFile(attempt, 2))


def test_a_result_survives_its_json_form() -> None:
    result = _result(7, "https://example.org/a", Verdict.OK, "eu")
    assert from_json(to_json(result)) == result
    # with every record it archived, the validators it sent and a 304's evidence
    capture = Capture("https://example.org/a", "2026-11-30T10:00:00.123456Z", "sha1:ABC")
    record = ArchivedRecord("f.warc.gz", 10, 20, "sha1:ABC", "revisit", capture=capture)
    hop = ArchivedRecord("f.warc.gz", 0, 10, "sha1:DEF", "response", truncated=True,
                         capture=Capture("https://example.org/old", "2026-12-01T12:00:00Z",
                                         "sha1:DEF"))
    full = replace(
        result, observation=replace(result.observation, conditional=True), archived=record,
        validators=Validators("https://example.org/a", '"e1"', None, capture),
        captures=(NodeCapture(hop, "https://example.org/old", 301, "2026-12-01T12:00:00Z",
                              None),
                  NodeCapture(record, "https://example.org/a", 304,
                              "2026-12-01T12:00:01.5Z", "text/html")))
    assert from_json(json.loads(json.dumps(to_json(full)))) == full
    failed = _result(8, "https://example.org/b", Verdict.TIMEOUT, "us")
    assert from_json(to_json(failed)) == failed


def test_refusals_by_settings_are_counted_not_recorded_and_accept_rules_apply(
        store_path: Path) -> None:
    ids = _targets(store_path)
    a, b = sorted(ids)
    refused = replace(_result(ids[a], a, Verdict.NOT_CHECKABLE, "eu"), observation=Observation(
        url=a, error=ErrorKind.PRIVATE_ADDRESS, error_message="private address 10.0.0.1"))
    forbidden = replace(_result(ids[b], b, Verdict.BLOCKED, "eu"), observation=Observation(
        url=b, hops=(Hop(b, 403),), content_type="text/html"))
    outcome = ingest(store_path, 1, "s0", policy=DEFAULT_CONFIG, now=NOW,
                     results=[refused, forbidden], accept=(AcceptRule.parse("403"),),
                     hold=lambda r: needs_confirmation(r.judgement.verdict))
    assert outcome is not None and (outcome.recorded, outcome.held) == (1, [])
    assert (outcome.refused, outcome.refusal) == (1, "private address 10.0.0.1")
    with Store(store_path) as store:
        rows = store.db.conn.execute("SELECT target_id, verdict FROM checks").fetchall()
    assert rows == [(ids[b], "ok")]  # accepted as the operator said, so not held either


def test_a_shard_target_line_carries_validators_and_earlier_records(tmp_path: Path) -> None:
    capture = Capture("https://example.org/a", "2026-11-30T10:00:00.5Z", "sha1:ABC")
    target = DueTarget(3, "k", "https://example.org/a", "example.org", "2026-12-01",
                       Validators("https://example.org/a", '"e"', "Mon, 30 Nov 2026", capture),
                       (capture, Capture("https://example.org/b", "2026-11-29T10:00:00Z",
                                         "sha1:DEF")))
    path = tmp_path / "targets.jl"
    assert write_targets(path, [target, DueTarget(4, "j", "u", "h", "d")]) == 2
    assert list(read_targets(path)) == [target, DueTarget(4, "j", "u", "h", "d")]
    # a line of the earlier form (five fields) still reads
    path.write_text('[5, "k", "u", "h", "d"]\n', encoding="utf-8")
    assert list(read_targets(path)) == [DueTarget(5, "k", "u", "h", "d")]


def test_a_baseline_that_is_a_revisit_compares_with_its_originals_text(
        store_path: Path) -> None:
    ids = _targets(store_path)
    a, b = sorted(ids)
    original = ArchivedRecord("f.warc.gz", 0, 10, "sha1:SAME", "response")
    revisit = ArchivedRecord("f.warc.gz", 10, 10, "sha1:SAME", "revisit")
    first = [replace(_result(ids[a], a, Verdict.OK, "eu"), archived=original),
             replace(_result(ids[b], b, Verdict.OK, "eu"), archived=revisit, main_text=None)]
    assert ingest(store_path, 1, "s0", policy=DEFAULT_CONFIG, now=NOW, results=first)
    later = replace(_result(ids[b], b, Verdict.OK, "eu", at=NOW + timedelta(days=1)),
                    main_text="hello world, and much more besides")
    assert ingest(store_path, 1, "s1", policy=DEFAULT_CONFIG, now=NOW, results=[later])
    with Store(store_path) as store:
        rows = store.db.conn.execute(
            "SELECT c.similarity, s.text FROM checks c LEFT JOIN snapshots s ON "
            "s.id = c.snapshot_id WHERE c.target_id = ? ORDER BY c.checked_at",
            [ids[b]]).fetchall()
    # the revisit stores no text of its own; the later check is compared with "hello"
    assert rows[0] == (None, None)  # a first check has no baseline to compare with
    assert rows[1][0] is not None and rows[1][0] < 1.0


def test_a_confirmation_that_fails_too_keeps_a_row_for_each_record(store_path: Path) -> None:
    ids = _targets(store_path)
    a = sorted(ids)[0]
    gone = Observation(url=a, hops=(Hop(a, 404),), content_type="text/html")

    def failed(vantage: str, offset: int) -> NodeResult:
        record = ArchivedRecord(f"{vantage}.warc.gz", offset, 10, f"sha1:{vantage}",
                                "response")
        return replace(_result(ids[a], a, Verdict.BROKEN, vantage), observation=gone,
                       archived=record, captures=(NodeCapture(record, a, 404,
                                                              "2026-12-01T12:00:00Z", None),))

    outcome = ingest(store_path, 1, "s0", policy=DEFAULT_CONFIG, now=NOW,
                     pairs=[Pair(failed("eu", 0), failed("us", 50))])
    assert outcome is not None and outcome.recorded == 1
    with Store(store_path) as store:
        rows = store.db.conn.execute("SELECT warc_file, capture, status FROM snapshots "
                                     "ORDER BY id").fetchall()
    assert rows == [("us.warc.gz", "attempt", 404), ("eu.warc.gz", "result", 404)]
_WORDING = {"herons": "the survey team counted herons at station {i} before noon",
            "otters": "volunteers in canoe {i} photographed otters sliding off the mud"}


def _article(topic: str) -> str:
    return ("<html><head><title>T</title></head><body><article><h1>T</h1>" + "".join(
        f"<p>{_WORDING[topic].format(i=i)}, {i * 3} of them.</p>" for i in range(12))
        + "</article></body></html>")


@pytest.mark.parametrize("archived", [True, False])
def test_a_baseline_a_local_crawl_left_unextracted_is_read_back_for_the_comparison(
        store_path: Path, tmp_path: Path, archived: bool) -> None:
    from archive.store.checks import CheckRow, SnapshotRow
    from archive.store.results import TargetUpdate
    from archive.warc.writer import SnapshotWriter
    from core.exchange import Exchange
    from rotwatch.drift import extract_main_text

    url = "https://example.org/a"
    warcs = tmp_path / "warcs"
    with SnapshotWriter(warcs) as writer:  # the local crawl's capture: text not extracted
        record = writer.write(Exchange(
            url, "GET", (), 200, "OK", "HTTP/1.1",
            (("Content-Type", "text/html; charset=utf-8"),), _article("herons").encode(),
            False, NOW - timedelta(days=1)))
    target_id = _targets(store_path)[url]
    obs = Observation(url=url, hops=(Hop(url, 200),), content_type="text/html", title="T")
    with Store(store_path) as store:
        def baseline() -> None:
            (snapshot_id,) = store.insert_checks([CheckRow(
                target_id, NOW - timedelta(days=1), obs, Judgement(Verdict.OK, "ok"),
                snapshot=SnapshotRow(
                    NOW - timedelta(days=1), url, record.warc_file, record.offset,
                    record.length, record.payload_digest, "response", "text/html", "T", None,
                    False, status=200))], None)
            store.update_targets([TargetUpdate(
                target_id, "alive", None, "ok", 0, None, None, None, NOW - timedelta(days=1),
                NOW, baseline_snapshot_id=snapshot_id)])
        store.transaction(baseline)
    changed = extract_main_text(_article("otters"), url)
    result = NodeResult(target_id, url, "example.org", NOW, obs, Judgement(Verdict.OK, "ok"),
                        "v", main_title=changed.title, main_text=changed.text)
    ingest(store_path, 1, "s0", policy=DEFAULT_CONFIG, now=NOW, results=[result],
           warc_dir=warcs if archived else None)
    with Store(store_path) as store:
        drifted, = store.db.conn.execute(
            "SELECT drifted FROM checks WHERE target_id = ? ORDER BY id DESC LIMIT 1",
            [target_id]).fetchone()
        kept, = store.db.conn.execute(
            "SELECT s.text FROM snapshots s JOIN targets t ON t.baseline_snapshot_id = s.id "
            "WHERE t.id = ?", [target_id]).fetchone()
    if archived:
        assert drifted == 1 and "herons" in kept
    else:  # nowhere to read it from: no comparison, nothing invented
        assert drifted is None and kept is None
