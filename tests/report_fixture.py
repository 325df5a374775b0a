"""A store with a history for report tests: a Chinese article whose links are in every
problem state, written through the Store API with real WARC records (no network).

Histories (checks at EARLY, MID, LATE, NOW, each a check run with its counts):
- dead: worked at EARLY (captured), then 404 three times (each 404 page captured too);
- gone: 410 every time (only error pages captured: no capture to offer);
- failing: worked at EARLY (captured), then timed out once;
- changed: worked throughout; captured at EARLY (the baseline) and at NOW (drifted, 31 %);
- moved: permanently redirected to URLS["moved-new"] since MID;
- blocked: 403 every time; refused: connection refused every time, in state failing;
- alive: worked throughout.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.store import CheckRow, SnapshotRow, Store, TargetUpdate
from archive.warc.writer import Exchange, SnapshotWriter
from core.records import ErrorKind, Hop, Judgement, Observation, Verdict
from rotwatch.ingest import ingest_paths

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EARLY, MID, LATE = NOW - timedelta(days=30), NOW - timedelta(days=12), NOW - timedelta(days=6)
TIMES = (EARLY, MID, LATE, NOW)
HOSTILE = '<script>alert("x")</script> & "quotes"'
URLS = {
    "dead": "https://dead.example/gone",
    "gone": "https://gone.example/removed",
    "failing": "https://failing.example/flaky",
    "changed": "https://changed.example/story",
    "moved": "https://moved.example/old",
    "moved-new": "https://moved.example/new",
    "blocked": "https://blocked.example/wall",
    "refused": "https://refused.example/closed",
    "alive": "https://alive.example/fine",
}
KEYS = ("dead", "gone", "failing", "changed", "moved", "blocked", "refused", "alive")
TITLE = "布林肯与王毅会面"
ARTICLE_URL = "https://cn.nytimes.com/world/20240729/blinken-wang-yi/"


@dataclass(frozen=True)
class ReportStore:
    data_dir: Path
    db_path: Path
    warc_dir: Path


def _exchange(url: str, body: bytes, when: datetime, status: int) -> Exchange:
    return Exchange(url=url, method="GET", request_headers=(("User-Agent", "test"),),
                    status=status, reason="OK" if status == 200 else "Error",
                    http_version="HTTP/1.1",
                    response_headers=(("Content-Type", "text/html; charset=utf-8"),),
                    body=body, truncated=False, fetched_at=when)


# (verdict, status, error, capture?) per check time, per key
_PLAN: dict[str, list[tuple[Verdict, int | None, ErrorKind | None, bool]]] = {
    "dead": [(Verdict.OK, 200, None, True)] + [(Verdict.BROKEN, 404, None, True)] * 3,
    "gone": [(Verdict.BROKEN, 410, None, True)] * 4,
    "failing": [(Verdict.OK, 200, None, True)] * 3 + [(Verdict.TIMEOUT, None, ErrorKind.TIMEOUT,
                                                       False)],
    "changed": [(Verdict.OK, 200, None, True)] + [(Verdict.OK, 200, None, False)] * 2
    + [(Verdict.OK, 200, None, True)],
    "moved": [(Verdict.OK, 200, None, True)] + [(Verdict.REDIRECTED, 200, None, True)] * 3,
    "blocked": [(Verdict.BLOCKED, 403, None, False)] * 4,
    "refused": [(Verdict.CONNECTION_FAILED, None, ErrorKind.REFUSED, False)] * 4,
    "alive": [(Verdict.OK, 200, None, True)] + [(Verdict.OK, 200, None, False)] * 3,
}
_STATES = {"dead": "dead", "gone": "dead", "failing": "failing", "changed": "changed",
           "moved": "moved", "blocked": "blocked", "refused": "failing", "alive": "alive"}


def _check(key: str, target_id: int, i: int, writer: SnapshotWriter) -> CheckRow:
    verdict, status, error, capture = _PLAN[key][i]
    when, url = TIMES[i], URLS[key]
    moved = verdict is Verdict.REDIRECTED
    final = URLS["moved-new"] if moved else url
    snap = None
    if capture and status:
        body = (f"<title>{key} page</title><p>{key} as of check {i}: "
                + ("Not Found" if status >= 400 else "what the article relied on") + "</p>")
        rec = writer.write(_exchange(final, body.encode(), when, status))
        snap = SnapshotRow(fetched_at=when, url=final, warc_file=rec.warc_file,
                           warc_offset=rec.offset, warc_length=rec.length,
                           payload_digest=rec.payload_digest, record_type=rec.record_type,
                           mime="text/html", title=f"{key} page", text=body, truncated=False)
    hops: tuple[Hop, ...] = ()
    if status:
        hops = ((Hop(url, 301, final), Hop(final, status)) if moved else (Hop(url, status),))
    drifted = key == "changed" and i == 3
    return CheckRow(target_id, when,
                    Observation(url=url, hops=hops, error=error,
                                error_message="Connection was refused by other side: 111"
                                if error is ErrorKind.REFUSED else None),
                    Judgement(verdict, f"{verdict.value} because of the test",
                              permanent_redirect=moved),
                    similarity=0.31 if drifted else None, drifted=drifted or None,
                    snapshot=snap)


def build(tmp: Path) -> ReportStore:
    data_dir = tmp / "data"
    warc_dir, db_path = data_dir / "warcs", data_dir / "rotwatch.db"
    seed = tmp / "seeds" / "article.html"
    seed.parent.mkdir(parents=True)
    anchor = {k: f"{k}的来源" for k in KEYS}
    anchor["dead"] = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    body = "".join(f'<p>据{k}的报道：<a href="{URLS[k]}">{anchor[k]}</a>。</p>' for k in KEYS)
    seed.write_text(f'<html><head><title>{TITLE}</title><link rel="canonical" '
                    f'href="{ARTICLE_URL}"></head><body>{body}</body></html>', encoding="utf-8")
    with Store(db_path) as st:
        ingest_paths(st, [str(seed)], now=EARLY - timedelta(days=1), max_seed_bytes=1_000_000)
        ids = {k: st.db.conn.execute("SELECT id FROM targets WHERE url = ?",
                                     [URLS[k]]).fetchone()[0] for k in KEYS}
        with SnapshotWriter(warc_dir) as writer:
            for i, when in enumerate(TIMES):
                run_id = st.start_run("check", "test", 1, when)
                rows = [_check(k, ids[k], i, writer) for k in KEYS]
                st.transaction(lambda rows=rows, run_id=run_id: st.insert_checks(rows, run_id))
                tally = Counter(r.judgement.verdict.value for r in rows)
                st.finish_run(run_id, status="ok", exit_code=0, now=when, counts=dict(tally))
        updates = []
        for k in KEYS:
            state = _STATES[k]
            failing = state in ("dead", "failing")
            since = {"dead": MID, "failing": NOW, "changed": NOW, "moved": MID,
                     "blocked": EARLY, "alive": EARLY}[state]
            updates.append(TargetUpdate(
                ids[k], state, since, _PLAN[k][-1][0].value, 3 if failing else 0,
                MID if failing else None, NOW if failing else None,
                None if k in ("gone", "blocked", "refused") else LATE, NOW,
                NOW + timedelta(days=1)))
        st.transaction(lambda: st.update_targets(updates))
        # The baseline of the changed page: its first capture (as the recorder sets it).
        st.transaction(lambda: st.db.conn.execute(
            "UPDATE targets SET baseline_snapshot_id = (SELECT min(id) FROM snapshots WHERE "
            "target_id = ?) WHERE id = ?", [ids["changed"], ids["changed"]]))
    return ReportStore(data_dir, db_path, warc_dir)
