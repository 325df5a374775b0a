"""A synthetic store for the report benchmark, filled through the `Store` API (no crawl).

N links in seeds of 50 links each; every target is cited by 3 links (the issue's workload:
10,000 targets, 30,000 links); targets in every state (60 % alive, 10 % dead, 8 % failing,
7 % changed, 7 % moved, 3 % recovered, 3 % blocked, 2 % new), each with P check passes
(one a day, each a check run with its counts), a snapshot row for every check that got a
response, and a baseline for the changed ones. Built once per (N, P) and kept in the work
directory; the report benchmark copies nothing and only reads it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.store import CheckRow, SnapshotRow, Store, TargetUpdate
from core.documents import ExtractedSeed, OutboundLink, Role, SeedDocument, SeedFormat
from core.records import ErrorKind, Hop, Judgement, Observation, Verdict

LINKS_PER_SEED = 50
LINKS_PER_TARGET = 3
START = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
_MIX = (("alive", 60), ("dead", 10), ("failing", 8), ("changed", 7), ("moved", 7),
        ("recovered", 3), ("blocked", 3), ("new", 2))
_BUCKETS = [state for state, share in _MIX for _ in range(share)]
_ROLES = (Role.CITATION, Role.PRIMARY_SOURCE, Role.AUTHOR, Role.IMAGE, Role.ORIGINAL)
_CONTEXT_EN = ("The State Department said in a statement that the secretary pressed the "
               "foreign minister on support for the defence industry, according to {}.")
_CONTEXT_ZH = "据美国国务院的声明，国务卿布林肯上周六就美中两国存在严重分歧的领域向中方施压，见{}。"


def state_of(target: int) -> str:
    return _BUCKETS[(target * 37) % 100]


def _url(target: int) -> str:
    return f"https://site{target % 997}.example/articles/{target:07d}/page.html"


def _seed(i: int, links: int, targets: int) -> ExtractedSeed:
    zh = i % 2 == 0
    out = []
    for j in range(links):
        target = (i * LINKS_PER_SEED + j) * 7919 % targets  # each target cited 3 times
        url = _url(target)
        out.append(OutboundLink(
            href=url, url=url, key=url, host=f"site{target % 997}.example",
            role=_ROLES[j % len(_ROLES)], element="a", anchor_text=f"source {target}",
            title=None, context=(_CONTEXT_ZH if zh else _CONTEXT_EN).format(url), position=j,
            checkable=True))
    doc = SeedDocument(path=f"/seeds/article-{i:06d}.html", format=SeedFormat.HTML,
                       encoding="utf-8", content_sha256=hashlib.sha256(str(i).encode()).hexdigest(),
                       url=f"https://news.example/{i:06d}.html",
                       title=("布林肯与王毅会面" if zh else "Blinken meets Wang Yi") + f" {i}")
    return ExtractedSeed(doc, tuple(out))


def _verdict(state: str, p: int, passes: int) -> Verdict:
    last = p == passes - 1
    if state in ("alive", "changed"):
        return Verdict.OK
    if state == "moved":
        return Verdict.REDIRECTED
    if state == "blocked":
        return Verdict.BLOCKED
    if state == "dead":
        return Verdict.BROKEN if p >= passes // 2 else Verdict.OK
    if state == "failing":
        return Verdict.TIMEOUT if last else Verdict.OK
    return Verdict.OK if last else Verdict.BROKEN  # recovered


def _check(target_id: int, url: str, state: str, verdict: Verdict, when: datetime,
           n: int) -> CheckRow:
    error = ErrorKind.TIMEOUT if verdict is Verdict.TIMEOUT else None
    status = {Verdict.OK: 200, Verdict.REDIRECTED: 200, Verdict.BROKEN: 404,
              Verdict.BLOCKED: 403}.get(verdict)
    moved = url.replace("/articles/", "/archive/") if state == "moved" else None
    hops = () if status is None else (
        (Hop(url, 301, moved), Hop(moved, 200)) if moved else (Hop(url, status),))
    snap = None if status is None else SnapshotRow(
        fetched_at=when, url=moved or url, warc_file=f"rotwatch-{when:%Y%m%d}-00000.warc.gz",
        warc_offset=n * 2048, warc_length=2000, payload_digest=f"sha1:{n:032d}",
        record_type="response", mime="text/html", title="A page", text=None, truncated=False)
    drift = state == "changed"
    return CheckRow(target_id, when, Observation(url=url, hops=hops, error=error),
                    Judgement(verdict, f"{verdict.value} (benchmark)",
                              permanent_redirect=bool(moved)),
                    similarity=0.42 if drift else None, drifted=drift or None, snapshot=snap)


def build(path: Path, links: int, passes: int) -> Path:
    """Fill a new store at `path` (removed first) with `links` links and `passes` passes."""
    for stale in path.parent.glob(path.name + "*"):
        stale.unlink()
    targets = -(-links // LINKS_PER_TARGET)
    with Store(path) as store:
        seeds = -(-links // LINKS_PER_SEED)
        for first in range(0, seeds, 200):
            batch = [_seed(i, min(LINKS_PER_SEED, links - i * LINKS_PER_SEED), targets)
                     for i in range(first, min(seeds, first + 200))]
            store.ingest(batch, START - timedelta(days=1))
        ids = [(int(r[0]), str(r[1])) for r in store.db.conn.execute(
            "SELECT id, url FROM targets ORDER BY id")]
        n = 0
        for p in range(passes):
            when = START + timedelta(days=p)
            run_id = store.start_run("check", "benchmark", 0, when)
            tally: Counter[str] = Counter()
            for first in range(0, len(ids), 5000):
                rows = []
                for target_id, url in ids[first:first + 5000]:
                    state = state_of(target_id)
                    if state == "new":
                        continue
                    verdict = _verdict(state, p, passes)
                    tally[verdict.value] += 1
                    n += 1
                    rows.append(_check(target_id, url, state, verdict, when, n))
                store.transaction(lambda rows=rows, run_id=run_id:  # type: ignore[misc]
                                  store.insert_checks(rows, run_id))
            store.finish_run(run_id, status="ok", exit_code=0, now=when, counts=dict(tally))
        end = START + timedelta(days=passes - 1)
        updates = []
        for target_id, _ in ids:
            state = state_of(target_id)
            if state == "new":
                continue
            failing = state in ("dead", "failing")
            updates.append(TargetUpdate(
                target_id, state, end - timedelta(days=passes // 2), _verdict(
                    state, passes - 1, passes).value,
                max(1, passes - passes // 2) if failing else 0,
                START if failing else None, end if failing else None,
                None if failing and state == "dead" else START, end, end + timedelta(days=1)))
        store.transaction(lambda: store.update_targets(updates))
        # The changed ones: their first capture is the baseline the drift was measured on.
        store.transaction(lambda: store.db.conn.execute(
            "UPDATE targets SET baseline_snapshot_id = (SELECT min(id) FROM snapshots WHERE "
            "target_id = targets.id) WHERE state = 'changed'"))
    return path
