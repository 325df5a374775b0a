"""Ingest: seed paths in, links recorded in the store. The Python API behind `rotwatch ingest`."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from archive.store import IngestOutcome, SeedChange, Store
from core.documents import ExtractedSeed, SeedFormat
from crawler.extract.collect import SeedProblem, UnchangedSeed, find_seed_files, read_seeds


@dataclass(frozen=True)
class IngestReport:
    outcomes: tuple[IngestOutcome, ...] = ()
    problems: tuple[SeedProblem, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def count(self, change: SeedChange) -> int:
        return sum(1 for o in self.outcomes if o.change is change)

    @property
    def links(self) -> int:
        return sum(o.links for o in self.outcomes)


def ingest_paths(store: Store, paths: Sequence[str], *, now: datetime, max_seed_bytes: int,
                 batch_size: int = 200, fmt: SeedFormat | None = None,
                 on_problem: Callable[[str], None] | None = None,
                 workers: int = 0,
                 on_seed: Callable[[int, int], None] | None = None) -> IngestReport:
    """Extract every seed under `paths` and record them in batches (one transaction each).

    `workers`: extraction processes (0 = one per core). Unchanged seeds (same bytes as
    stored) are recognised by their hash before any parsing. `on_seed(done, total)` is
    called after each seed file (for a progress bar).
    """
    workers = workers or (os.cpu_count() or 1)
    files, problems = find_seed_files(paths)
    outcomes: list[IngestOutcome] = []
    warnings: list[str] = []
    for problem in problems:
        if on_problem:
            on_problem(problem.message)
    batch: list[ExtractedSeed] = []
    done = 0
    for item in read_seeds(files, max_bytes=max_seed_bytes, fmt=fmt, known=store.seed_hashes,
                           workers=workers):
        done += 1
        if on_seed:
            on_seed(done, len(files))
        if isinstance(item, UnchangedSeed):
            outcomes.append(IngestOutcome(item.path, SeedChange.UNCHANGED,
                                          store.link_count(item.path)))
            continue
        if isinstance(item, SeedProblem):
            problems.append(item)
            if on_problem:
                on_problem(item.message)
            continue
        warnings.extend(item.warnings)
        if on_problem:
            for warning in item.warnings:
                on_problem(warning)
        batch.append(item)
        if len(batch) >= batch_size:
            outcomes.extend(store.ingest(batch, now))
            batch = []
    if batch:
        outcomes.extend(store.ingest(batch, now))
    return IngestReport(tuple(outcomes), tuple(problems), tuple(warnings))
