"""Splitting a run's hosts between crawl processes (or fleet jobs): whole hosts, even work.

Pure functions. Every host goes to exactly one shard, so per-host politeness, robots.txt
and soft-404 probes stay per host. A stable hash of the host name splits them without
knowing the work, but unevenly: 20 hosts over 3 shards hash 6/5/9, and one big host may
land beside many others while a shard with small hosts finishes early and leaves its core
idle. `balance_hosts` splits by the number of due targets per host instead, largest host
first onto the least-loaded shard (longest-processing-time first).
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Mapping


def hashed_shard(host: str, count: int) -> int:
    """The shard of a host no plan names (a target added after the plan was made)."""
    return zlib.crc32(host.encode()) % count if count > 1 else 0


def balance_hosts(due_per_host: Mapping[str, int], count: int) -> dict[str, int]:
    """host → shard index in [0, count), each shard with about the same number of due
    targets. Deterministic: ties go to the lower shard and the lexically first host."""
    if count <= 1:
        return dict.fromkeys(due_per_host, 0)
    loads = [(0, index) for index in range(count)]
    plan: dict[str, int] = {}
    for host, due in sorted(due_per_host.items(), key=lambda item: (-item[1], item[0])):
        load, index = heapq.heappop(loads)
        plan[host] = index
        heapq.heappush(loads, (load + due, index))
    return plan


def shard_of(host: str, count: int, plan: Mapping[str, int] | None = None) -> int:
    """The shard that crawls `host`: the plan's choice, else the stable hash."""
    if plan is not None:
        chosen = plan.get(host)
        if chosen is not None and 0 <= chosen < count:
            return chosen
    return hashed_shard(host, count)
