"""What fleet parity costs the coordinator: gathering every record, and planning revisits.

    .venv/bin/python -m benchmarks.fleet_parity [--links 3000] [--json]

In one process, on real SQLite files, with no nodes (the coordinator's side only):

- gathering a shard of ``--links`` results (rotwatch.cluster.gather.ingest) as nodes send
  them since issue 14's parity work (each result with its records: a redirect hop before
  every 5th result, the judged response) against the same results without their records
  (what a fleet stored before: the judged response only);
- a recheck's gathering, every result a revisit (its text read from the store);
- planning a recheck: streaming the due targets (what planning did before) against the
  same plus each page's earlier records for revisits (archive/store/originals.py).

CPU time of this process (time.process_time), per link, and the ratios between them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive.store import Store  # noqa: E402
from archive.store.db import open_database  # noqa: E402
from archive.store.due import Selection  # noqa: E402
from archive.store.fleet import FleetSide, ShardState  # noqa: E402
from archive.store.originals import earlier_originals  # noqa: E402
from core.exchange import ArchivedRecord  # noqa: E402
from core.policy_config import DEFAULT_CONFIG  # noqa: E402
from core.records import Capture, Hop, Judgement, Observation, Verdict  # noqa: E402
from rotwatch.cluster.gather import ingest  # noqa: E402
from rotwatch.cluster.results import NodeCapture, NodeResult  # noqa: E402
from rotwatch.crawl_process import stream_targets  # noqa: E402
from rotwatch.ingest import ingest_paths  # noqa: E402

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TEXT = " ".join(f"Paragraph {i} about the harbour ferries and their timetables." for i in
                range(40))


def make_store(directory: Path, links: int) -> tuple[Path, dict[str, int]]:
    seed = directory / "seed.md"
    seed.write_text("# S\n\n" + "".join(f"- [l{i}](https://h{i % 50}.example/p{i})\n"
                                        for i in range(links)), encoding="utf-8")
    path = directory / "rotwatch.db"
    with Store(path) as store:
        ingest_paths(store, [str(seed)], now=NOW - timedelta(days=1),
                     max_seed_bytes=10_000_000)
        for run in (1, 2):
            run_id = store.start_run("check", "manual", 1, NOW)
            assert run_id == run
        rows = store.db.conn.execute("SELECT url, id FROM targets").fetchall()
    return path, {url: int(id_) for url, id_ in rows}


def results(ids: dict[str, int], at: datetime, *, records: bool,
            revisit: bool) -> list[NodeResult]:
    out = []
    for n, (url, target_id) in enumerate(sorted(ids.items())):
        digest = f"sha1:{target_id:032d}"
        final = ArchivedRecord("f.warc.gz", n * 2000 + 900, 1000, digest,
                               "revisit" if revisit else "response",
                               capture=Capture(url, "2026-12-01T12:00:00Z", digest))
        captures = [NodeCapture(final, url, 200, "2026-12-01T12:00:00.5Z", "text/html")]
        hops: tuple[Hop, ...] = (Hop(url, 200),)
        if n % 5 == 0:
            hop = ArchivedRecord("f.warc.gz", n * 2000, 900, "sha1:EMPTY", "response")
            captures.insert(0, NodeCapture(hop, url + "-old", 301, "2026-12-01T12:00:00Z",
                                           "text/html"))
            hops = (Hop(url + "-old", 301, url), Hop(url, 200))
        obs = Observation(url=url, hops=hops, content_type="text/html", title="T",
                          text=TEXT[:400], length=len(TEXT))
        out.append(NodeResult(target_id, url, url.split("/")[2], at, obs,
                              Judgement(Verdict.OK, "200"), "eu", archived=final,
                              main_title="T", main_text=None if revisit else TEXT,
                              captures=tuple(captures) if records else ()))
    return out


def cpu(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def gather(path: Path, run_id: int, shard: str, batch: list[NodeResult]) -> float:
    with Store(path) as store:
        fleet = FleetSide(store.db)
        store.transaction(lambda: fleet.put_shard(run_id, shard, node="n", job_id="j",
                                                  attempt=0, status=ShardState.SCHEDULED,
                                                  targets=len(batch), now=NOW))
    return cpu(lambda: ingest(path, run_id, shard, policy=DEFAULT_CONFIG, now=NOW,
                              results=batch))


def measure(links: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "with").mkdir()
        (base / "without").mkdir()
        with_path, ids = make_store(base / "with", links)
        without_path, ids_without = make_store(base / "without", links)
        first_with = gather(with_path, 1, "s0", results(ids, NOW, records=True,
                                                        revisit=False))
        first_without = gather(without_path, 1, "s0", results(ids_without, NOW,
                                                              records=False, revisit=False))
        later = NOW + timedelta(days=40)  # every target due again
        selection = Selection()
        plain = cpu(lambda: sum(1 for _ in stream_targets(with_path, later, selection)))

        def plan_with_originals() -> None:
            db = open_database(with_path)
            try:
                batch = list(stream_targets(with_path, later, selection))
                for start in range(0, len(batch), 500):
                    earlier_originals(db, [t.id for t in batch[start:start + 500]])
            finally:
                db.close()

        planned = cpu(plan_with_originals)
        recheck = gather(with_path, 2, "s0", [
            replace(r, checked_at=later) for r in results(ids, later, records=True,
                                                          revisit=True)])
    per = 1000 / links  # ms per link
    return {
        "links": links,
        "gather_ms_per_link": {"with_records": first_with * per,
                               "judged_only": first_without * per,
                               "recheck_revisits": recheck * per},
        "gather_ratio_records_vs_judged_only": first_with / first_without,
        "gather_ratio_recheck_vs_first": recheck / first_with,
        "plan_ms_per_link": {"targets_only": plain * per, "with_originals": planned * per},
        "plan_ratio": planned / plain if plain else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=3000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.links)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    g, p = result["gather_ms_per_link"], result["plan_ms_per_link"]
    print(f"{result['links']} links, CPU ms per link")
    print(f"gather, every record:   {g['with_records']:.3f}")
    print(f"gather, judged only:    {g['judged_only']:.3f}  "
          f"(every record costs {result['gather_ratio_records_vs_judged_only']:.2f}x)")
    print(f"gather, recheck:        {g['recheck_revisits']:.3f}  "
          f"({result['gather_ratio_recheck_vs_first']:.2f}x the first pass)")
    print(f"plan, targets:          {p['targets_only']:.3f}")
    print(f"plan, with originals:   {p['with_originals']:.3f}  ({result['plan_ratio']:.2f}x)")


if __name__ == "__main__":
    main()
