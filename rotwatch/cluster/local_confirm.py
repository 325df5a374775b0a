"""A second vantage without a fleet: links that failed are checked again from a second
local source address (`[cluster] confirm_bind_address`) or through a forward proxy on
another network (`[cluster] confirm_proxy`), in a crawl of their own.

The same node spider a fleet runs (rotwatch/cluster/node_spider.py) crawls them, in a
child process (a reactor runs once per process), binding every connection to the second
address (Scrapy's `bindaddress`) or sending it through the proxy (`meta["proxy"]`). A
link that works from there is recorded with both checks: the second one, then the
regional verdict (`blocked`), so it is not failing. Locally the first check was recorded
already, before its confirmation (the crawl's recorder writes as it goes): see
docs/deploy/fleet.md for why the link's state after the run is the fleet's.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlsplit

from archive.store.db import from_db
from archive.store.fleet import FleetSide, ShardState
from archive.store.store import Store
from core.records import DueTarget, ErrorKind, Hop, Judgement, Observation, Verdict
from core.vantage import NEEDS_CONFIRMATION
from rotwatch.cluster.gather import BadResults, Pair, ingest, move_warcs, read_results
from rotwatch.cluster.node_spider import NODE_SPIDER, PROXY_ENV
from rotwatch.cluster.plan import node_settings
from rotwatch.cluster.results import NodeResult
from rotwatch.cluster.shared_dir import ShardDir, read_done, write_targets
from rotwatch.config import Config

LOG = logging.getLogger(__name__)
FIRST_VANTAGE = "this machine"
SHARD = "local-confirm"


def _first_checks(config: Config, run_id: int) -> list[NodeResult]:
    wanted = sorted(v.value for v in NEEDS_CONFIRMATION)
    with Store(config.store_path) as store:
        rows = store.db.conn.execute(
            "SELECT c.target_id, t.key, t.host, c.checked_at, c.url, c.hops, c.verdict, "
            "c.reason, c.error_kind, c.error_message, c.elapsed, c.retries FROM checks c "
            "JOIN targets t ON t.id = c.target_id WHERE c.run_id = ? AND c.verdict IN "
            f"({', '.join('?' * len(wanted))}) ORDER BY c.id", [run_id, *wanted]).fetchall()
    found = []
    for (target_id, key, host, checked_at, url, hops, verdict, reason, error_kind,
         error_message, elapsed, retries) in rows:
        observation = Observation(
            url=url, hops=tuple(Hop(u, s) for u, s in json.loads(hops or "[]")),
            error=ErrorKind(error_kind) if error_kind else None, error_message=error_message,
            elapsed=elapsed or 0.0, retries=retries or 0)
        found.append(NodeResult(target_id, key, host, from_db(checked_at) or datetime.now(UTC),
                                observation, Judgement(Verdict(verdict), reason or ""),
                                FIRST_VANTAGE))
    return found


def vantage_label(address: str, proxy: str) -> str:
    """How the second check is named in the history: the proxy (without any credentials
    its URL carries) or the source address."""
    if proxy:
        parts = urlsplit(proxy)
        return f"proxy {parts.hostname}:{parts.port}"
    return f"source {address}"


def confirm_locally(config: Config, run_id: int, log_level: str = "WARNING") -> Counter[str]:
    """Check this run's failures again from the second address; returns how the run's
    verdict counts change (a regional link: one failure less, one `blocked` more)."""
    address = config.cluster.confirm_bind_address or ""
    proxy = config.cluster.confirm_proxy or ""
    firsts = _first_checks(config, run_id)
    change: Counter[str] = Counter()
    if not firsts:
        return change
    shard = ShardDir(config.data_dir / "confirm" / str(run_id))
    write_targets(shard.targets, [DueTarget(r.target_id, r.key, r.observation.url, r.host, "")
                                  for r in firsts])
    command = [sys.executable, "-m", "scrapy", "crawl", NODE_SPIDER,
               "-a", f"shard_dir={shard.path}", "-a", "attempt=0",
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
        LOG.warning("the second-address check ran out of time; first checks stand")
        return change
    attempt = shard.attempt(0)
    done = read_done(attempt)
    try:
        seconds = read_results(attempt, int(done["count"])) if done else []
    except BadResults as exc:
        LOG.warning("second-address check unreadable (%s); first checks stand", exc)
        return change
    if config.crawl.snapshots:
        move_warcs(attempt, config.warc_dir)
    by_target = {r.target_id: r for r in seconds}
    # Only disagreements add to the history: where both failed, the first check stands.
    pairs = [Pair(first, by_target[first.target_id]) for first in firsts
             if first.target_id in by_target
             and by_target[first.target_id].judgement.verdict.is_healthy]
    with Store(config.store_path) as store:
        fleet = FleetSide(store.db)
        store.transaction(lambda: fleet.put_shard(
            run_id, SHARD, node=None, job_id=None, attempt=0, status=ShardState.SCHEDULED,
            targets=len(firsts), now=datetime.now(UTC)))
    ingest(config.store_path, run_id, SHARD, policy=config.policy, now=datetime.now(UTC),
           pairs=pairs, warc_dir=config.warc_dir)
    for pair in pairs:
        change[pair.first.judgement.verdict.value] -= 1
        change[Verdict.BLOCKED.value] += 1
    return change
