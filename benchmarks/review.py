"""What triage marks and web-archive copies cost a report: the same store with and without.

Builds the report benchmark's synthetic store (benchmarks/report_store.py) once, copies it,
and in the copy marks every dead target (`rotwatch triage`'s store call, URL-wide) and
caches a web-archive copy for every link in trouble (dead, failing, changed). Then times
`rotwatch report` on both, alternating, several rounds; the ratio reviewed / plain is
what docs/benchmarks.md quotes (both measured in the same run, under the same load).

    python -m benchmarks.review --links 30000 --rounds 3
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.store import Lookup, Store
from benchmarks.report_store import build
from core.triage import Mark, MarkEvent

REPO = Path(__file__).resolve().parent.parent


def review(db: Path) -> tuple[int, int]:
    """Mark every dead target fixed and cache a copy for every link in trouble."""
    marked_at = datetime.now(UTC).replace(microsecond=0)
    with Store(db) as st:
        dead = [int(r[0]) for r in st.db.conn.execute(
            "SELECT id FROM targets WHERE state = 'dead'")]
        for target_id in dead:
            st.add_mark(target_id, MarkEvent(Mark.FIXED, marked_at, "bench", "benchmark"))
        wanted = st.lookup_wanted(("dead", "failing", "changed"))
        st.put_lookups([Lookup(url, day, "memento", "http://archive.invalid/", marked_at,
                               marked_at + timedelta(days=7), f"http://archive.invalid/{url}",
                               datetime.fromisoformat(day).replace(tzinfo=UTC))
                        for url, day in wanted])
    return len(dead), len(wanted)


def timed_report(data: Path, fmt: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "rotwatch", "--data-dir", str(data), "report",
                           "--format", fmt, "-o", str(data / f"out.{fmt}")], cwd=REPO,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 2):
        raise SystemExit(f"report failed: {done.stderr}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=30_000)
    parser.add_argument("--passes", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--formats", default="json,html")
    parser.add_argument("--work", type=Path, help="keep the two stores here (reused)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rw-review-bench-") as tmp:
        work = args.work or Path(tmp)
        plain, reviewed = work / "plain", work / "reviewed"
        if not (reviewed / "rotwatch.db").exists():
            plain.mkdir(parents=True, exist_ok=True)
            build(plain / "rotwatch.db", args.links, args.passes)
            shutil.copytree(plain, reviewed)
            review(reviewed / "rotwatch.db")
        with Store(reviewed / "rotwatch.db") as st:
            marks = st.db.conn.execute("SELECT count(*) FROM triage_marks").fetchone()[0]
            copies = st.db.conn.execute("SELECT count(*) FROM archive_lookups").fetchone()[0]
            started = time.perf_counter()
            st.link_triage_states()
            st.archived_copies()
            queries = time.perf_counter() - started
        print(f"{args.links} links, {args.passes} pass(es); reviewed copy: {marks} dead "
              f"targets marked, {copies} web-archive copies cached; reading both: "
              f"{queries:.2f} s")
        for fmt in args.formats.split(","):
            best = {"plain": float("inf"), "reviewed": float("inf")}
            for _ in range(args.rounds):
                for name, data in (("plain", plain), ("reviewed", reviewed)):
                    best[name] = min(best[name], timed_report(data, fmt))
            print(f"{fmt}: plain {best['plain']:.2f} s, reviewed {best['reviewed']:.2f} s, "
                  f"ratio {best['reviewed'] / best['plain']:.2f} (best of {args.rounds})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
