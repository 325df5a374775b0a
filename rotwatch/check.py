"""The check job: one Scrapy crawl over the selected targets, in this process.

A Twisted reactor cannot be restarted, so a process runs at most one crawl; the daemon
starts `rotwatch check` as a child process, as scrapyd does.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from archive.store import Selection, Store
from archive.store.pending import PendingSide
from archive.warc.recovery import recover_open_files
from core.exitcodes import DEFAULT_FAIL_ON, ExitCode, FailOn, exit_code, needs_attention
from core.records import Verdict
from core.url_filter import UrlFilter
from rotwatch.cluster.held import holds_for_confirmation
from rotwatch.config import Config

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckSummary:
    run_id: int
    verdicts: dict[str, int] = field(default_factory=dict)
    recorded: int = 0
    error: str | None = None
    # Selected links (due or not) in a --fail-on state after the run: what exit 2 means.
    attention: int = 0
    # Targets refused by the operator's settings (no --allow-private): not checks.
    refused: int = 0
    refusal: str | None = None

    @property
    def checked(self) -> int:
        return sum(self.verdicts.values())

    @property
    def bad(self) -> int:
        """Checks whose verdict is a failure (`Verdict.is_failure`: a bad link)."""
        return sum(n for v, n in self.verdicts.items() if Verdict(v).is_failure)

    @property
    def exit_code(self) -> ExitCode:
        return exit_code(error=bool(self.error), attention=self.attention > 0)


# With `processes = 0` (automatic) a run gets one more crawl process per this many due
# targets, up to one per core: each process costs about 1.5 CPU-seconds to start (Python,
# Scrapy, the reactor), which a small run would spend for nothing.
TARGETS_PER_PROCESS = 2000


def crawl_processes(config: Config, due: int | None = None) -> int:
    """How many crawl processes: the configured number, or one per core (at most 4) and
    at most one per TARGETS_PER_PROCESS due targets."""
    wanted = config.crawl.processes
    if wanted > 0:
        return wanted
    cores = max(1, min(4, os.cpu_count() or 1))
    if due is None:
        return cores
    return max(1, min(cores, -(-due // TARGETS_PER_PROCESS)))


def attention_count(store: Store, selection: Selection, fail_on: frozenset[FailOn]) -> int:
    """Selected links (due or not, --include/--exclude applied) in a --fail-on state,
    leaving out those a reviewer's mark in effect silences (docs/review.md)."""
    urls = UrlFilter.of(selection.include, selection.exclude)
    silenced = store.silenced_targets(selection.seeds)
    states = Counter(state for target_id, url, state in store.selected_states(selection)
                     if target_id not in silenced and (not urls.active or urls.keeps(url)))
    return needs_attention(states, fail_on)


def run_check(config: Config, selection: Selection, *, trigger: str = "manual",
              on_result: Callable[[Verdict], None] | None = None,
              log_level: str = "WARNING",
              fail_on: frozenset[FailOn] = DEFAULT_FAIL_ON) -> CheckSummary:
    """Run one check to completion and record it; returns what was found.

    A Twisted reactor runs once per process and a crawl is CPU-bound in Python, so with
    more than one core the targets are split by host over several crawl processes
    (each host stays in one process, so politeness, robots.txt and probes are per host
    as before).
    """
    warc_dir = config.warc_dir if config.crawl.snapshots else None
    if warc_dir is not None:
        for report in recover_open_files(warc_dir):
            LOG.warning("recovered %s after an interrupted run: kept %d records, dropped "
                        "%d bytes", report.open_file, report.records_kept, report.bytes_dropped)
    now = datetime.now(UTC)
    with Store(config.store_path) as store:
        store.mark_interrupted("check", now)
        run_id = store.start_run("check", trigger, os.getpid(), now)
        held_before = bool(PendingSide(store.db).held_runs())
    if held_before:
        # A run killed before confirming the checks it held (a second local vantage):
        # they are confirmed and recorded first, so their links are not due again.
        from rotwatch.cluster.local_confirm import confirm_interrupted

        confirm_interrupted(config, run_id, log_level)
    with Store(config.store_path) as store:
        # Nothing due (a cron run between checks): no crawl process to start, which
        # costs seconds for nothing. Otherwise as many processes as the work needs.
        due = store.due_count(now, selection)
    idle = due == 0
    shards = 0 if idle else crawl_processes(config, due)
    if idle:
        parts = []
    elif config.cluster.enabled:
        from rotwatch.cluster.coordinator import run_fleet

        shards = len(config.cluster.scrapyd)
        parts = [run_fleet(config, selection, now, run_id, on_result, log_level)]
    elif shards == 1:
        from rotwatch.crawl_process import crawl_shard

        parts = [crawl_shard(config, selection, now, run_id, (0, 1), on_result, log_level)]
    else:
        from rotwatch.shards import run_shards

        parts = run_shards(config, selection, now, run_id, shards, on_result, log_level)
    verdicts: Counter[str] = Counter()
    for part in parts:
        verdicts.update(part.verdicts)
    if holds_for_confirmation(config):
        # A second vantage without a fleet: the checks the crawl held are checked again
        # from another address or through a proxy on another network, then recorded.
        from rotwatch.cluster.local_confirm import confirm_locally

        verdicts.update(confirm_locally(config, run_id, log_level))
        verdicts = +verdicts  # drop counts that fell to zero
    recorded = sum(part.recorded for part in parts)
    errors = [part.error for part in parts if part.error]
    error = "; ".join(errors) if errors else None
    refused = sum(part.refused for part in parts)
    refusal = next((part.refusal for part in parts if part.refusal), None)
    with Store(config.store_path) as store:
        summary = CheckSummary(run_id, dict(verdicts), recorded, error,
                               attention_count(store, selection, fail_on), refused, refusal)
        store.finish_run(run_id, status="failed" if error else "ok",
                         exit_code=summary.exit_code, now=datetime.now(UTC),
                         counts={"checked": summary.checked, "recorded": recorded,
                                 "processes": shards, **verdicts,
                                 **({"refused": refused} if refused else {})}, message=error)
    return summary
