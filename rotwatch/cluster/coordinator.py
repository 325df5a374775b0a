"""The coordinator: one check spread over a Scrapyd fleet, gathered into the store.

It keeps the store (the single writer) and the run record; the nodes only crawl. It plans
shards by host (rotwatch/cluster/plan.py), deploys the egg to every node that lacks this
version, schedules one job per shard, polls `listjobs.json`, gathers each finished shard
(rotwatch/cluster/gather.py) and reschedules a shard whose job failed or whose node
vanished, on another node, at most `max_attempts` times. Results that could lead to
"dead" are held and checked again by a node of another vantage before they are recorded.
SIGTERM or Ctrl-C cancels every job it started.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from archive.store.due import Selection
from archive.store.fleet import FleetSide, ShardState
from archive.store.store import Store
from core.operator_rules import AcceptRule
from core.records import DueTarget, Verdict
from core.vantage import needs_confirmation
from rotwatch.cluster.egg import build_egg
from rotwatch.cluster.gather import BadResults, Pair, ResultsFile, ingest
from rotwatch.cluster.node_spider import NODE_SPIDER
from rotwatch.cluster.plan import node_settings, plan_shards, write_confirm_targets
from rotwatch.cluster.results import NodeResult
from rotwatch.cluster.scrapyd_api import NodeError, NodeUnreachable, ScrapydNode
from rotwatch.cluster.shared_choice import open_shared
from rotwatch.cluster.shared_store import SharedStore, SharedStoreError, is_url, options_arg
from rotwatch.config import Config
from rotwatch.crawl_process import ShardResult

LOG = logging.getLogger(__name__)
DEFAULT_VANTAGE = "default"


@dataclass
class Node:
    api: ScrapydNode
    vantage: str
    alive: bool = True


@dataclass
class Shard:
    """A shard's progress in this run (mutable: the coordinator's own bookkeeping)."""

    name: str
    location: str  # in the shared location (a directory, or an object store's URL)
    targets: int
    attempt: int = -1
    node: Node | None = None
    job_id: str | None = None
    started: float = 0.0
    tried: set[str] = field(default_factory=set)
    avoid_vantage: str | None = None  # a confirmation runs elsewhere than its first check
    held: list[NodeResult] = field(default_factory=list)  # results waiting for a 2nd vantage
    finished: bool = False


def fleet_nodes(config: Config) -> list[Node]:
    cluster = config.cluster
    labels = cluster.vantage or (DEFAULT_VANTAGE,) * len(cluster.scrapyd)
    return [Node(ScrapydNode(url, timeout=cluster.request_timeout), label)
            for url, label in zip(cluster.scrapyd, labels, strict=True)]


class Coordinator:
    def __init__(self, config: Config, run_id: int, log_level: str,
                 on_result: Callable[[Verdict], None] | None) -> None:
        self.config = config
        self.cluster = config.cluster
        self.run_id = run_id
        self.on_result = on_result
        self.nodes = fleet_nodes(config)
        self.settings = node_settings(config, log_level)
        self.shards: dict[str, Shard] = {}
        self.verdicts: Counter[str] = Counter()
        self.recorded = 0
        self.refused = 0  # targets refused by the operator's settings, as a local crawl
        self.refusal: str | None = None
        self.accept = tuple(AcceptRule.parse(rule) for rule in config.crawl.accept)
        self.errors: list[str] = []
        self.version = ""
        self.stopping = False
        self.token = secrets.token_hex(3)
        self.shared: SharedStore | None = None

    # ---- the run ------------------------------------------------------------------------
    def run(self, selection: Selection, now: datetime) -> ShardResult:
        # From the start: a signal during the deploy or the scheduling stops the run too.
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM,
                                                                     signal.SIGINT)}
        try:
            return self._run(selection, now)
        except BaseException:
            self._cancel_all()  # no job may outlive the coordinator that gathers it
            raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self, selection: Selection, now: datetime) -> ShardResult:
        try:
            self.shared = open_shared(str(self.cluster.shared_dir),
                                      self.cluster.storage_options,
                                      staging=self.config.data_dir / "fleet-staging")
        except SharedStoreError as exc:
            return ShardResult({}, 0, str(exc))
        self._deploy()
        alive = [n for n in self.nodes if n.alive]
        if not alive:
            return ShardResult({}, 0, "no Scrapyd node answered: "
                                      + ", ".join(n.api.url for n in self.nodes))
        if not self.stopping:
            try:
                planned = plan_shards(self.config, self.shared, selection, now, self.run_id,
                                      len(alive))
            except SharedStoreError as exc:
                return ShardResult({}, 0, str(exc))
            for index, (name, (location, count)) in sorted(planned.items()):
                if self.stopping:
                    break
                shard = Shard(name, location, count)
                self.shards[name] = shard
                self._schedule(shard, preferred=alive[index % len(alive)])
        while not self.stopping and any(not s.finished for s in self.shards.values()):
            time.sleep(self.cluster.poll_interval)
            self._poll()
        if self.stopping:
            self._cancel_all()
        return ShardResult(dict(self.verdicts), self.recorded,
                           "; ".join(self.errors) if self.errors else None,
                           self.refused, self.refusal)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _deploy(self) -> None:
        egg = build_egg()
        self.version = egg.version

        def deploy(node: Node) -> None:
            try:
                if egg.version not in node.api.versions():
                    node.api.add_version(egg.version, egg.data)
            except (NodeUnreachable, NodeError) as exc:
                LOG.warning("node %s left out of this run: %s", node.api.url, exc)
                node.alive = False

        # In parallel: a node checks a new egg by loading its spiders (seconds each).
        with ThreadPoolExecutor(max_workers=min(8, len(self.nodes))) as pool:
            list(pool.map(deploy, self.nodes))

    # ---- scheduling ---------------------------------------------------------------------
    def _candidates(self, shard: Shard) -> list[Node]:
        alive = [n for n in self.nodes if n.alive]
        if shard.avoid_vantage is not None:
            alive = [n for n in alive if n.vantage != shard.avoid_vantage]
        fresh = [n for n in alive if n.api.url not in shard.tried]
        return fresh or alive

    def _schedule(self, shard: Shard, preferred: Node | None = None) -> None:
        shard.attempt += 1
        if shard.attempt >= self.cluster.max_attempts:
            self._give_up(shard, f"shard {shard.name} failed {shard.attempt} times")
            return
        candidates = self._candidates(shard)
        if not candidates:
            self._give_up(shard, f"shard {shard.name}: no node left to run it")
            return
        node = preferred if preferred in candidates else min(
            candidates, key=lambda n: sum(1 for s in self.shards.values()
                                          if s.node is n and not s.finished))
        # The token keeps ids unique on nodes that other stores' coordinators also use.
        job_id = f"rw{self.run_id}-{self.token}-{shard.name}-a{shard.attempt}"
        args = {"shard_dir": shard.location, "attempt": str(shard.attempt),
                "vantage": node.vantage}
        if is_url(shard.location):
            args["storage_options"] = options_arg(self.cluster.storage_options)
        try:
            node.api.schedule(NODE_SPIDER, job_id, version=self.version,
                              settings=self.settings, args=args)
        except (NodeUnreachable, NodeError) as exc:
            LOG.warning("cannot schedule %s on %s: %s", shard.name, node.api.url, exc)
            if isinstance(exc, NodeUnreachable):
                node.alive = False
            shard.tried.add(node.api.url)
            self._schedule(shard)
            return
        shard.node, shard.job_id, shard.started = node, job_id, time.monotonic()
        shard.tried.add(node.api.url)
        self._note(shard, ShardState.SCHEDULED)

    def _give_up(self, shard: Shard, why: str) -> None:
        shard.finished = True
        if shard.avoid_vantage is not None:
            # The second vantage could not answer: the first checks stand as they are.
            self._ingest(shard, pairs=[Pair(r, None) for r in shard.held])
            LOG.warning("%s; recorded the first vantage's checks unconfirmed", why)
            return
        self.errors.append(f"{why}; its {shard.targets} targets stay due")
        self._note(shard, ShardState.FAILED)

    def _note(self, shard: Shard, state: ShardState) -> None:
        with Store(self.config.store_path) as store:
            fleet = FleetSide(store.db)
            store.transaction(lambda: fleet.put_shard(
                self.run_id, shard.name, node=shard.node.api.url if shard.node else None,
                job_id=shard.job_id, attempt=shard.attempt, status=state,
                targets=shard.targets, now=datetime.now(UTC)))

    # ---- polling and gathering ----------------------------------------------------------
    def _poll(self) -> None:
        active = [s for s in self.shards.values() if not s.finished and s.node is not None]
        for node in {id(s.node): s.node for s in active if s.node}.values():
            try:
                jobs = node.api.jobs()
            except (NodeUnreachable, NodeError) as exc:
                LOG.warning("node %s vanished (%s): its shards go elsewhere", node.api.url, exc)
                node.alive = False
                for shard in [s for s in active if s.node is node]:
                    if self._done(shard) is not None:
                        self._finished(shard)  # it finished before its node went away
                    else:
                        self._schedule(shard)
                continue
            for shard in [s for s in active if s.node is node]:
                assert shard.job_id is not None
                state = jobs.state(shard.job_id)
                if state == "finished" or state is None:
                    self._finished(shard)
                elif self._overdue(shard):
                    with contextlib.suppress(NodeUnreachable, NodeError):
                        node.api.cancel(shard.job_id)
                    self._schedule(shard)

    def _overdue(self, shard: Shard) -> bool:
        limit = self.cluster.job_timeout_minutes * 60
        return bool(limit) and time.monotonic() - shard.started > limit

    def _done(self, shard: Shard) -> dict[str, Any] | None:
        assert self.shared is not None
        try:
            done = self.shared.done(shard.location, shard.attempt)
        except SharedStoreError as exc:
            LOG.warning("job %s: %s", shard.job_id, exc)
            return None
        if done is not None and done.get("job") not in (None, shard.job_id):
            # Left by another coordinator's job (a store started afresh over an old
            # prefix reuses run numbers): not this attempt's, never gathered.
            LOG.warning("%s attempt %d: a marker of job %s, not %s", shard.location,
                        shard.attempt, done.get("job"), shard.job_id)
            return None
        return done

    def _finished(self, shard: Shard) -> None:
        assert self.shared is not None
        done = self._done(shard)
        if done is None:
            LOG.warning("job %s ended without finishing; rescheduling", shard.job_id)
            self._schedule(shard)
            return
        try:
            # Through the store's interface: an object store's files are downloaded and
            # checked against the marker first (rotwatch/cluster/shared_object.py).
            attempt = self.shared.results(shard.location, shard.attempt, done)
            results = ResultsFile(attempt, int(done.get("count", -1)))
            if self.config.crawl.snapshots:
                self.shared.collect_warcs(shard.location, shard.attempt, done,
                                          self.config.warc_dir)
            if shard.avoid_vantage is not None:
                by_target = {r.target_id: r for r in results}
                self._ingest(shard, pairs=[Pair(r, by_target.get(r.target_id))
                                           for r in shard.held])
            else:
                self._ingest(shard, results=results)
        except (BadResults, OSError, SharedStoreError) as exc:
            # nothing of it was recorded: run it again (under a new attempt)
            LOG.warning("job %s: %s; rescheduling", shard.job_id, exc)
            self._schedule(shard)
            return
        finally:
            self.shared.release(shard.location, shard.attempt)
        shard.finished = True

    def _ingest(self, shard: Shard, results: ResultsFile | None = None,
                pairs: list[Pair] | None = None) -> None:
        vantage = shard.node.vantage if shard.node else DEFAULT_VANTAGE
        outcome = ingest(self.config.store_path, self.run_id, shard.name,
                         policy=self.config.policy, now=datetime.now(UTC),
                         results=results or (), pairs=pairs or [],
                         hold=self._hold_rule(vantage), accept=self.accept,
                         warc_dir=self.config.warc_dir)
        if outcome is None:
            return  # ingested before: nothing to add
        self.recorded += outcome.recorded
        self.refused += outcome.refused
        self.refusal = self.refusal or outcome.refusal
        self.verdicts.update(outcome.verdicts)
        if self.on_result is not None:
            for verdict, count in outcome.verdicts.items():
                for _ in range(count):
                    self.on_result(Verdict(verdict))
        if outcome.held:
            self._confirm(shard, vantage, outcome.held)

    def _hold_rule(self, vantage: str) -> Callable[[NodeResult], bool]:
        others = any(n.alive and n.vantage != vantage for n in self.nodes)
        if not (self.cluster.confirm and others):
            return lambda r: False
        return lambda r: needs_confirmation(r.judgement.verdict)

    def _confirm(self, first: Shard, vantage: str, held: list[NodeResult]) -> None:
        name = f"c{first.name}"
        assert self.shared is not None
        location = self.shared.shard(self.run_id, name)
        targets = [DueTarget(r.target_id, r.key, r.observation.url, r.host, "") for r in held]
        write_confirm_targets(self.shared, location, targets)
        shard = Shard(name, location, len(targets), avoid_vantage=vantage, held=held)
        self.shards[name] = shard
        self._schedule(shard)

    def _cancel_all(self) -> None:
        for shard in self.shards.values():
            if shard.finished or shard.node is None or shard.job_id is None:
                continue
            with contextlib.suppress(NodeUnreachable, NodeError):
                shard.node.api.cancel(shard.job_id)
            shard.finished = True
            with contextlib.suppress(Exception):  # the jobs are stopped; the note is extra
                self._note(shard, ShardState.CANCELLED)
        self.errors.append("interrupted: the fleet's jobs were cancelled; their targets "
                           "stay due")


def run_fleet(config: Config, selection: Selection, now: datetime, run_id: int,
              on_result: Callable[[Verdict], None] | None = None,
              log_level: str = "WARNING") -> ShardResult:
    """One check over the fleet; returns what a local crawl process would."""
    return Coordinator(config, run_id, log_level, on_result).run(selection, now)
