"""What `rotwatch status` shows of the fleet: its nodes and the latest fleet run's shards."""

from __future__ import annotations

from typing import Any

from archive.store.fleet import FleetSide
from archive.store.store import Store
from rotwatch.cluster.coordinator import fleet_nodes
from rotwatch.cluster.scrapyd_api import NodeError, NodeUnreachable
from rotwatch.config import Config


def fleet_status(config: Config) -> dict[str, Any]:
    """Each node (reachable?, its pending/running/finished jobs) and the last run's shards.

    A node that does not answer is reported as such, never raised: status must show the
    rest. Nodes are asked once each, with the configured request timeout.
    """
    nodes: list[dict[str, Any]] = []
    for node in fleet_nodes(config):
        node.api.attempts = 1
        entry: dict[str, Any] = {"url": node.api.url, "vantage": node.vantage}
        try:
            found = node.api.daemon_status()
            entry.update(reachable=True, pending=int(found.get("pending", 0)),
                         running=int(found.get("running", 0)),
                         finished=int(found.get("finished", 0)))
        except (NodeUnreachable, NodeError) as exc:
            entry.update(reachable=False, error=str(exc))
        nodes.append(entry)
    shards: list[dict[str, Any]] = []
    if config.store_path.exists():
        with Store(config.store_path) as store:
            shards = [{"run": s.run_id, "shard": s.shard, "node": s.node, "job": s.job_id,
                       "attempt": s.attempt, "status": s.status.value, "targets": s.targets,
                       "checks": s.checks} for s in FleetSide(store.db).shards()]
    return {"nodes": nodes, "shards": shards}


def fleet_lines(config: Config) -> list[str]:
    """`fleet_status` as the lines `rotwatch status` prints."""
    status = fleet_status(config)
    lines = [f"fleet: {len(status['nodes'])} Scrapyd node(s), shared dir "
             f"{config.cluster.shared_dir}"]
    for n in status["nodes"]:
        if n["reachable"]:
            lines.append(f"  {n['url']} [{n['vantage']}]: pending={n['pending']} "
                         f"running={n['running']} finished={n['finished']}")
        else:
            lines.append(f"  {n['url']} [{n['vantage']}]: unreachable ({n['error']})")
    for s in status["shards"]:
        lines.append(f"  run {s['run']} shard {s['shard']}: {s['status']} on {s['node']} "
                     f"(attempt {s['attempt'] + 1}, {s['targets']} targets)")
    return lines
