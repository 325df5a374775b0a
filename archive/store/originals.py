"""Earlier full records a target's next check may revisit, for a crawl that cannot ask.

A local crawl's WARC writer asks the store for any earlier record of a payload
(`CheckSide.find_digest`). A fleet node has no store, so its shard's target list carries,
per target, the answer the store would give for each payload that target served at its
last check (every record of it: hops, retried attempts, the judged response) and for its
baseline: an unchanged page, its redirect hops and a repeated error page are then
revisits, as in a local check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlite_utils import Database

from archive.store.checks import _parse_date

_IN_CHUNK = 500  # ids or digests per `IN (…)` query


def earlier_originals(db: Database, target_ids: Iterable[int]
                      ) -> dict[int, list[tuple[str, datetime, str]]]:
    """Per target: (URL, WARC-Date, payload digest) of the first full record of each
    payload it served at its last check or in its baseline, as `find_digest` finds it."""
    ids = list(target_ids)
    served: dict[int, set[str]] = defaultdict(set)
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start:start + _IN_CHUNK]
        rows = db.conn.execute(
            "SELECT s.target_id, s.payload_digest FROM targets t JOIN snapshots s "
            "ON s.target_id = t.id AND (s.fetched_at = t.last_checked_at "
            "OR s.id = t.baseline_snapshot_id) "
            f"WHERE t.id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        for target_id, digest in rows:
            if digest:
                served[int(target_id)].add(str(digest))
    digests = sorted({d for ds in served.values() for d in ds})
    first: dict[str, tuple[str, datetime, str]] = {}
    for start in range(0, len(digests), _IN_CHUNK):
        part = digests[start:start + _IN_CHUNK]
        # The lowest id per digest: the record find_digest would name.
        rows = db.conn.execute(
            "SELECT payload_digest, url, coalesce(warc_date, fetched_at), min(id) FROM "
            "snapshots WHERE record_type = 'response' AND payload_digest IN "
            f"({','.join('?' * len(part))}) GROUP BY payload_digest", part).fetchall()
        for digest, url, date, _ in rows:
            moment = _parse_date(date)
            if moment is not None:
                first[str(digest)] = (str(url), moment, str(digest))
    return {target_id: [first[d] for d in sorted(ds) if d in first]
            for target_id, ds in served.items()}
