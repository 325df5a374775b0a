"""A second vantage without a fleet: held checks confirmed from a second local source
address (`[cluster] confirm_bind_address`) or through a forward proxy on another network
(`[cluster] confirm_proxy`), in a crawl of their own, then recorded with that check.

The crawl holds every check that could lead to "dead" instead of recording it
(rotwatch/cluster/held.py). The same node spider a fleet runs
(rotwatch/cluster/node_spider.py) checks those links again, in a child process (a
reactor runs once per process), binding every connection to the second address
(Scrapy's `bindaddress`) or sending it through the proxy (`meta["proxy"]`). Both checks
then go into the store in one ingest (rotwatch/cluster/gather.py), as a fleet's do: a
link that works from there gets the second check and the regional verdict (`blocked`);
one that fails from both gets one check, naming the second vantage. Held checks of a run
killed before its confirmation are confirmed by the next check run (`confirm_interrupted`).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlsplit

from archive.store.fleet import FleetSide, ShardState
from archive.store.pending import HeldRow, PendingSide
from archive.store.store import Store
from core.records import DueTarget, Verdict
from rotwatch.cluster.gather import BadResults, Pair, ingest, move_warcs, read_results
from rotwatch.cluster.held import FIRST_VANTAGE, held_result, holds_for_confirmation
from rotwatch.cluster.node_spider import NODE_SPIDER, PROXY_ENV
from rotwatch.cluster.plan import node_settings
from rotwatch.cluster.results import NodeResult
from rotwatch.cluster.shared_dir import ShardDir, read_done, write_targets
from rotwatch.config import Config

LOG = logging.getLogger(__name__)
SHARD = "local-confirm"
__all__ = ["FIRST_VANTAGE", "confirm_interrupted", "confirm_locally", "vantage_label"]


def vantage_label(address: str, proxy: str) -> str:
    """How the second check is named in the history: the proxy (without any credentials
    its URL carries) or the source address."""
    if proxy:
        parts = urlsplit(proxy)
        return f"proxy {parts.hostname}:{parts.port}"
    return f"source {address}"


def _second_checks(config: Config, shard: ShardDir, firsts: list[NodeResult],
                   log_level: str) -> list[NodeResult]:
    """The held links checked again from the second vantage ([] if that crawl failed)."""
    address = config.cluster.confirm_bind_address or ""
    proxy = config.cluster.confirm_proxy or ""
    attempt_no = 0
    while shard.attempt(attempt_no).path.exists():  # one left by a killed run: not reused
        attempt_no += 1
    write_targets(shard.targets, [DueTarget(r.target_id, r.key, r.observation.url, r.host, "")
                                  for r in firsts])
    command = [sys.executable, "-m", "scrapy", "crawl", NODE_SPIDER,
               "-a", f"shard_dir={shard.path}", "-a", f"attempt={attempt_no}",
               "-a", f"vantage={vantage_label(address, proxy)}",
               "-a", f"bind_address={address}"]
    settings = node_settings(config, log_level)
    if proxy:
        # The proxy is the operator's own, often on a private network: the address guard
        # must not refuse it (the targets behind it are still checked here first).
        settings.append(f"ROTWATCH_TRUSTED_HOSTS={urlsplit(proxy).hostname}")
    for setting in settings:
        command += ["-s", setting]
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "rotwatch.cluster.node_settings",
           PROXY_ENV: proxy}
    limit = config.cluster.job_timeout_minutes * 60 or None
    try:
        subprocess.run(command, env=env, stdin=subprocess.DEVNULL, check=False,
                       timeout=limit, cwd=config.data_dir)
    except subprocess.TimeoutExpired:
        LOG.warning("the second-vantage check ran out of time; first checks stand")
        return []
    attempt = shard.attempt(attempt_no)
    done = read_done(attempt)
    try:
        seconds = read_results(attempt, int(done["count"])) if done else []
    except BadResults as exc:
        LOG.warning("second-vantage check unreadable (%s); first checks stand", exc)
        return []
    if config.crawl.snapshots:
        move_warcs(attempt, config.warc_dir)
    return seconds


def confirm_locally(config: Config, run_id: int, log_level: str = "WARNING") -> Counter[str]:
    """Confirm a run's held checks from the second vantage and record both checks;
    returns how the run's verdict counts change (a regional link: one failure less, one
    `blocked` more). Without a second vantage configured (any more), or when its crawl
    fails, the held checks are recorded as they are."""
    with Store(config.store_path) as store:
        held = PendingSide(store.db).held(run_id)
    change: Counter[str] = Counter()
    if not held:
        return change
    firsts = [held_result(row) for row in held]
    shard = ShardDir(config.data_dir / "confirm" / str(run_id))
    seconds = (_second_checks(config, shard, firsts, log_level)
               if holds_for_confirmation(config) else [])
    by_target = {r.target_id: r for r in seconds}
    pairs = [Pair(first, by_target.get(first.target_id)) for first in firsts]
    _record(config, run_id, held, pairs)
    shutil.rmtree(shard.path, ignore_errors=True)  # its WARC files are in the archive
    for pair in pairs:
        if pair.second is not None and pair.second.judgement.verdict.is_healthy:
            change[pair.first.judgement.verdict.value] -= 1
            change[Verdict.BLOCKED.value] += 1
    return change


def _record(config: Config, run_id: int, held: list[HeldRow], pairs: list[Pair]) -> None:
    """Both checks of each pair into the store, and the held ones let go, at once."""
    now = datetime.now(UTC)
    ids = [row.id for row in held]
    with Store(config.store_path) as store:
        fleet = FleetSide(store.db)
        store.transaction(lambda: fleet.put_shard(
            run_id, SHARD, node=None, job_id=None, attempt=0, status=ShardState.SCHEDULED,
            targets=len(pairs), now=now))
    if ingest(config.store_path, run_id, SHARD, policy=config.policy, now=now,
              pairs=pairs, release=ids, warc_dir=config.warc_dir) is None:
        # Recorded before (the release shares the ingest's transaction, so only a store
        # edited by hand gets here): let them go, not recorded twice.
        with Store(config.store_path) as store:
            pending = PendingSide(store.db)
            store.transaction(lambda: pending.release(ids))


def confirm_interrupted(config: Config, current_run: int, log_level: str = "WARNING") -> int:
    """Held checks of runs killed before their confirmation: confirmed now (or recorded
    as they are, without a second vantage), as checks of the run that made them. Returns
    how many were held."""
    with Store(config.store_path) as store:
        runs = PendingSide(store.db).held_runs()
    runs.pop(current_run, None)
    what = ("confirming them now" if holds_for_confirmation(config) else
            "recording them as they are (no second vantage is configured now)")
    for run_id, count in sorted(runs.items()):
        LOG.warning("run %d ended before confirming %d held checks: %s", run_id, count, what)
        confirm_locally(config, run_id, log_level)
    return sum(runs.values())
