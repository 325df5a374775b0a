"""Where a profiled pass's CPU goes, by part of the work: py-spy collapsed stacks grouped.

    .venv/bin/python -m benchmarks.profile_groups /tmp/x.2.txt

Reads the collapsed stacks `benchmarks.profile_check --py-spy --gil --out /tmp/x` keeps
(`/tmp/x.N.txt` for pass N) and prints each group's share of the samples: Scrapy and
Twisted's request and response work, the WARC records, the store (the Recorder's prepare
and record), the hand-over to the Recorder, verdicts and page facts, the due query, and
the parent's own work (in process, the crawl runs in the parent). The first rule a stack
matches decides its group.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("WARC records (archive/warc)", ("Recorder._write_warc", "archive/warc/")),
    ("store: the Recorder's prepare and record (archive/store)",
     ("Recorder._record", "Recorder._prepare", "Recorder._drain", "Recorder._enqueue")),
    ("due query (targets and their validators)", ("due_page", "stream_targets")),
    ("hand-over to the Recorder (pipeline, jobs)", ("Recorder.", "RecordPipeline", "_run_all")),
    ("verdicts and page facts", ("core/verdict", "page_facts", "crawler/fetch/content.py")),
    ("Scrapy/Twisted: request and response (spider, download handler, scheduler, "
     "middlewares, reactor)", ("crawl_shard",)),
)
PARENT = "the parent: imports, CLI, run bookkeeping"


def group_of(stack: str) -> str:
    return next((name for name, marks in GROUPS if any(m in stack for m in marks)), PARENT)


def groups(path: Path) -> tuple[int, Counter[str]]:
    found: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        found[group_of(stack)] += int(count)
    return total, found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    total, found = groups(Path(argv[0]))
    print(f"{total} samples")
    for name, n in found.most_common():
        print(f"{n / max(total, 1):6.1%}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
