"""Real Scrapyd servers for the fleet tests and benchmark, each on its own loopback address.

    with ScrapydServer(tmp / "node-a", "127.0.0.2") as node:
        node.url   # http://127.0.0.2:<port>
        node.kill()  # the whole machine gone: scrapyd and every crawl it started

Each server has its own eggs, logs, items and dbs directories under its own directory, and
runs in a session of its own (so `kill` takes its crawl processes with it, as a machine
that dies does). `cpus` pins it, and so its crawls, to those cores (taskset).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


class ScrapydServer:
    def __init__(self, directory: Path, address: str, *, max_proc: int = 2,
                 cpus: str | None = None, env: dict[str, str] | None = None) -> None:
        self.directory = directory
        self.address = address
        self.max_proc = max_proc
        self.cpus = cpus
        self.env = env or {}
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def start(self, timeout: float = 60.0) -> ScrapydServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port(self.address)
        d = self.directory
        (d / "scrapyd.conf").write_text(
            "[scrapyd]\n"
            f"bind_address = {self.address}\nhttp_port = {self.port}\n"
            f"eggs_dir = {d / 'eggs'}\nlogs_dir = {d / 'logs'}\nitems_dir = {d / 'items'}\n"
            f"dbs_dir = {d / 'dbs'}\npoll_interval = 0.2\nmax_proc = {self.max_proc}\n",
            encoding="utf-8")
        command = [sys.executable, "-m", "scrapyd", "--pidfile=",
                   "--logfile", str(d / "scrapyd.log")]
        if self.cpus is not None and shutil.which("taskset"):
            command = ["taskset", "-c", self.cpus, *command]
        self.proc = subprocess.Popen(command, cwd=d, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, env={**os.environ, **self.env})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"scrapyd exited with {self.proc.returncode}: "
                                   f"{self.log_tail()}")
            try:
                with _DIRECT.open(f"{self.url}/daemonstatus.json", timeout=2) as answer:
                    if json.loads(answer.read()).get("status") == "ok":
                        return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"scrapyd on {self.url} not ready in {timeout}s: {self.log_tail()}")

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return (self.directory / "scrapyd.log").read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL scrapyd and every crawl it started: a node that vanished."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)

    def __enter__(self) -> ScrapydServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
