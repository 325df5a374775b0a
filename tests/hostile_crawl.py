"""One `rotwatch check` over the hostile cases and normal pages, its memory sampled.

Shared by tests/test_hostile_servers.py and benchmarks/hostile.py: the client side of
``tests.hostile_server`` (start, ready line, stop) and a crawl run that samples the RSS of
the whole crawl process tree every ``SAMPLE_SECONDS`` with psutil.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tests.helpers import REPO_ROOT, latest_checks, rotwatch, write_config

SAMPLE_SECONDS = 0.05
# Seconds one target may take over all hops, retries and waits (crawl.target_budget): under
# the ~33 s that tests.hostile_server's slow_chain needs to reach the redirect limit.
TARGET_BUDGET = 20.0
MB = 1024 * 1024


class HostileServer:
    """A ``tests.hostile_server`` child process; closing its stdin stops it."""

    def __init__(self, max_seconds: float = 600.0, bomb_mb: int = 200,
                 robots_mb: int = 50) -> None:
        self.args = ["--max-seconds", str(max_seconds), "--bomb-mb", str(bomb_mb),
                     "--robots-mb", str(robots_mb)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> HostileServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.hostile_server", *self.args], cwd=REPO_ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        stdout = self.proc.stdout
        assert stdout is not None
        lines: queue.Queue[bytes] = queue.Queue()
        # readline() cannot time out by itself; a helper thread bounds the wait.
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            self.info = json.loads(lines.get(timeout=30))
        except (queue.Empty, ValueError):
            self.stop()
            raise RuntimeError("hostile server gave no ready line within 30 s") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()

    @property
    def cases(self) -> dict[str, str]:
        return dict(self.info["cases"])

    @property
    def marker(self) -> str:
        return str(self.info["marker"])

    def canary_connections(self) -> int:
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.cases["loop"].split("/hostile/")[0] + "/_canary",
                         timeout=10) as response:
            return int(json.loads(response.read())["connections"])


@dataclass(frozen=True)
class CrawlRun:
    """What one crawl did: exit, output, wall time, memory, and the checks it recorded."""

    returncode: int
    stdout: str
    stderr: str
    wall: float
    peak_process_mb: float  # the largest RSS any single process of the tree reached
    peak_tree_mb: float  # the largest sum over the tree at one sample
    started: float  # time.time() when the check began
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)


def _tree_rss(root: psutil.Process) -> list[int]:
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
    sizes = []
    for proc in procs:
        try:
            sizes.append(proc.memory_info().rss)
        except psutil.Error:
            continue  # it ended between listing and reading
    return sizes


def sampled_check(data: Path, config: Path, timeout: float = 300.0) -> CrawlRun:
    """`rotwatch check --allow-private` as a child, its process tree sampled until it ends."""
    command = [sys.executable, "-m", "rotwatch", "--data-dir", str(data), "--config",
               str(config), "check", "--allow-private"]
    peak_process = peak_tree = 0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started, t0 = time.time(), time.monotonic()
        proc = subprocess.Popen(command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err)
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            if time.monotonic() - t0 > timeout:
                proc.kill()
                proc.wait()
                break
            sizes = _tree_rss(root)
            if sizes:
                peak_process, peak_tree = max(peak_process, *sizes), max(peak_tree, sum(sizes))
            time.sleep(SAMPLE_SECONDS)
        wall = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        return CrawlRun(proc.returncode, out.read().decode(errors="replace"),
                        err.read().decode(errors="replace"), wall, peak_process / MB,
                        peak_tree / MB, started, latest_checks(data))


def crawl(base: Path, urls: Sequence[str], timeout: float = 300.0) -> CrawlRun:
    """Ingest a Markdown seed citing `urls` into a fresh store under `base`, then check."""
    base.mkdir(parents=True, exist_ok=True)
    seed = base / "seed.md"
    seed.write_text("# Hostile\n\n" + "".join(f"- [link {i}]({url})\n"
                                             for i, url in enumerate(urls)), encoding="utf-8")
    config = write_config(base / "rotwatch.toml", max_mb=1, timeout=4, retry_times=1,
                          retry_after_cap=3, target_budget=TARGET_BUDGET)
    ingest = rotwatch(base / "data", "ingest", str(seed), config=config)
    if ingest.returncode != 0:
        raise RuntimeError(f"ingest failed: {ingest.stderr}")
    return sampled_check(base / "data", config, timeout)


def normal_urls(mock_base_urls: Sequence[str], count: int = 20) -> list[str]:
    """`count` ordinary article pages spread over the given mock-server hosts."""
    return [f"{mock_base_urls[i % len(mock_base_urls)]}/page/normal-{i}" for i in range(count)]
