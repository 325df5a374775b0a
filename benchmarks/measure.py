"""Measuring one tool run: wall time, CPU of its whole process tree, peak RSS, verdicts scored.

Each tool runs as a child process in its own session with a timeout. `os.wait4` gives the
child's CPU *including every descendant it waited for* (Linux adds reaped children's
times to their parent's), so rotwatch's crawl subprocesses and extraction workers are in
its CPU figure; peak RSS is the largest single process of the tree (`ru_maxrss`), and a
sampler adds up the RSS and the PSS of the live tree every 0.2 s for the whole tree's peak
(summed RSS counts pages shared between forked processes once per process; PSS does not).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Setup:
    """What every tool of one comparison gets: per-host and total concurrency, retries."""

    per_host: int
    total: int
    retries: int = 2


@dataclass
class Result:
    tool: str
    links: int
    wall_s: float = 0.0
    cpu_s: float = 0.0
    max_rss_mb: float = 0.0
    tree_rss_mb: float = 0.0
    tree_pss_mb: float = 0.0
    # The tree's PSS at its peak, by kind of process (parent, fork server, crawl process,
    # spawned worker, resource tracker): "crawl process ×2" → MB (summed over them).
    peak_parts: dict[str, float] = field(default_factory=dict)
    exit_code: int | None = None
    timed_out: bool = False
    classified: dict[str, int] = field(default_factory=dict)
    wrong: int = 0
    missing: int = 0
    examples: list[str] = field(default_factory=list)
    note: str = ""
    # What the target server spent during this run (its CPU, the requests it answered).
    server_cpu_s: float = 0.0
    server_requests: int = 0
    # When the run's process started (epoch seconds): the target server's log is in those.
    started_at: float = 0.0

    @property
    def server_ms_per_request(self) -> float:
        return 1000 * self.server_cpu_s / self.server_requests if self.server_requests else 0.0

    @property
    def links_per_s(self) -> float:
        return self.links / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_s / self.links * 1000 if self.links else 0.0


def _tree_pids(root: int) -> tuple[list[int], dict[int, int], dict[int, int]]:
    """`root` and all its descendants, every process's resident KiB and parent, from /proc
    (Linux)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        parent[pid] = ppid
        rss[pid] = int(fields[21]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree, rss, parent


def _pss_kb(pid: int) -> int:
    """Proportional set size: a page shared by n processes counts 1/n in each (Linux)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


# A process forked from the fork server keeps its command line: how many of its ancestors
# share it tells the server (none), its crawl processes (one) and their forked workers.
_FORKED = ("fork server", "crawl process", "forked worker")


def _kind(pid: int, root: int, parent: dict[int, int]) -> str:
    """What a process of the tree is, from its command line (multiprocessing's helpers
    name their entry point there) or its ancestors (a fork server's children crawl)."""
    if pid == root:
        return "parent"
    cmd = _cmdline(pid)
    if b"forkserver" in cmd:
        depth, up = 0, parent.get(pid, 0)
        while up and b"forkserver" in _cmdline(up):
            depth, up = depth + 1, parent.get(up, 0)
        return _FORKED[min(depth, len(_FORKED) - 1)]
    if b"resource_tracker" in cmd:
        return "resource tracker"
    if b"spawn_main" in cmd:
        return "spawned worker"
    return "other"


def _tree_memory_kb(root: int) -> tuple[int, int, dict[str, float]]:
    """The tree's summed RSS and summed PSS in KiB, and its PSS in MB by kind of process.
    Summed RSS counts a page shared by forked processes (a fork server's imported modules)
    once per process; PSS splits it."""
    tree, rss, parent = _tree_pids(root)
    pss = {pid: _pss_kb(pid) for pid in tree}
    kinds = Counter(_kind(pid, root, parent) for pid in tree)
    parts: dict[str, float] = {}
    for pid in tree:
        kind = _kind(pid, root, parent)
        label = f"{kind} ×{kinds[kind]}" if kinds[kind] > 1 else kind
        parts[label] = parts.get(label, 0.0) + pss[pid] / 1024
    return (sum(rss.get(pid, 0) for pid in tree), sum(pss.values()),
            {k: round(v, 1) for k, v in parts.items()})


def measure(cmd: Sequence[str], timeout: float, result: Result, *, cwd: Path = ROOT,
            stdout: Path | None = None, env: dict[str, str] | None = None) -> None:
    """Run `cmd`, fill wall/cpu/rss/exit of `result`; kill it after `timeout` seconds."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
    err = tempfile.TemporaryFile()  # noqa: SIM115
    start = time.perf_counter()
    result.started_at = time.time()
    proc = subprocess.Popen(list(cmd), cwd=cwd, stdout=out, stderr=err, env=env,
                            start_new_session=True)
    deadline = start + timeout
    status, usage = 0, None
    next_sample = start
    while True:  # bounded by the deadline
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        now = time.perf_counter()
        if now > deadline:
            result.timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        if now >= next_sample:
            rss_kb, pss_kb, parts = _tree_memory_kb(proc.pid)
            result.tree_rss_mb = max(result.tree_rss_mb, rss_kb / 1024)
            if pss_kb / 1024 > result.tree_pss_mb:
                result.tree_pss_mb, result.peak_parts = pss_kb / 1024, parts
            next_sample = now + 0.2
        time.sleep(0.02)
    result.wall_s = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    result.exit_code = proc.returncode
    result.cpu_s = usage.ru_utime + usage.ru_stime
    result.max_rss_mb = usage.ru_maxrss / 1024
    if result.peak_parts:
        result.note += " Peak PSS by process: " + ", ".join(
            f"{kind} {mb:.0f} MB" for kind, mb in sorted(result.peak_parts.items())) + "."
    if not isinstance(out, int):
        out.close()
    err.seek(0)
    tail = err.read().decode(errors="replace")[-1500:]
    err.close()
    if result.timed_out or result.exit_code not in (0, 1, 2):
        result.note += f" exit {result.exit_code}{' (timeout)' if result.timed_out else ''}:" \
                       f" {tail.strip()[-600:]}"


def score(result: Result, expected: dict[str, str], got: dict[str, str]) -> None:
    result.classified = dict(Counter(got.values()))
    for url, want in expected.items():
        have = got.get(url)
        if have is None:
            result.missing += 1
        elif have != want:
            result.wrong += 1
        if have != want and len(result.examples) < 8:
            result.examples.append(f"{url}: expected {want}, got {have}")
