"""Checking URLs named on the command line (`rotwatch check URL…`).

Each URL becomes a one-link seed, `(command line) URL`. Unless `--record` is given it is
checked in a throw-away store (no snapshots) beside nothing the operator keeps, so the
same crawl, verdicts and policy apply without touching the real store.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from archive.store import Selection, Store
from archive.store.runs import RunCheck
from core.documents import ExtractedSeed, OutboundLink, Role, SeedDocument, SeedFormat
from core.urls import resolve
from rotwatch.check import CheckSummary
from rotwatch.config import Config

SEED_PREFIX = "(command line) "
# Below this many URLs one crawl process is enough (starting more costs more than it saves).
_ONE_PROCESS_BELOW = 100


@dataclass(frozen=True)
class AdhocResult:
    summary: CheckSummary
    checks: tuple[RunCheck, ...]


def adhoc_seeds(urls: Sequence[str]) -> list[ExtractedSeed]:
    """One seed per URL; ValueError naming the first URL that cannot be checked."""
    seeds = []
    for url in urls:
        found = resolve(url, None)
        if not found.checkable:
            raise ValueError(f"{url!r} cannot be checked: {found.reason}")
        digest = hashlib.sha256(found.url.encode()).hexdigest()
        document = SeedDocument(SEED_PREFIX + found.url, SeedFormat.TEXT, "utf-8", digest)
        link = OutboundLink(href=url, url=found.url, key=found.key, host=found.host,
                            role=Role.CITATION, element="command-line", anchor_text="",
                            title=None, context="", position=0, checkable=True)
        seeds.append(ExtractedSeed(document, (link,)))
    return seeds


Runner = Callable[[Config, Selection], CheckSummary]


def check_adhoc(config: Config, urls: Sequence[str], *, record: bool,
                run: Runner) -> AdhocResult:
    """Check `urls` with `run` (the check, with its progress and options); recorded in the
    configured store only when `record` is set (the caller holds the writer lock then)."""
    seeds = adhoc_seeds(urls)
    selection = Selection(keys=tuple(dict.fromkeys(s.links[0].key for s in seeds)))
    if len(seeds) < _ONE_PROCESS_BELOW:
        config = replace(config, crawl=replace(config.crawl, processes=1))
    if record:
        return _check_in(config, seeds, selection, run)
    with tempfile.TemporaryDirectory(prefix="rotwatch-check-") as scratch:
        throwaway = replace(config, data_dir=Path(scratch),
                            crawl=replace(config.crawl, snapshots=False))
        return _check_in(throwaway, seeds, selection, run)


def _check_in(config: Config, seeds: list[ExtractedSeed], selection: Selection,
              run: Runner) -> AdhocResult:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with Store(config.store_path) as store:
        store.ingest(seeds, datetime.now(UTC))
    summary = run(config, selection)
    with Store(config.store_path) as store:
        checks = tuple(store.run_checks(summary.run_id))
    return AdhocResult(summary, checks)
