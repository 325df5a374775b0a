"""Crawl processes forked from a fork server: safe to fork, and stopped with `rotwatch check`.

The fork server imports the crawl's modules once (rotwatch.crawl_start); what it imports
must open no store, start no thread and install no reactor, and the list must be what
crawl_shard imports. A real `rotwatch check` with two crawl processes on a slow loopback
server is stopped mid-crawl by SIGTERM (everything in flight recorded, no process left)
and killed by SIGKILL (the crawl processes stop too, through the fork server's end).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rotwatch.crawl_process import CRAWL_MODULES, crawl_shard
from tests.conftest import MockServer
from tests.helpers import REPO_ROOT, query, write_config

SLOW_PER_HOST = 6


def test_the_preloaded_modules_are_what_crawl_shard_imports() -> None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(crawl_shard)))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert imported and imported <= set(CRAWL_MODULES), imported - set(CRAWL_MODULES)


def test_preloading_opens_no_store_starts_no_thread_installs_no_reactor() -> None:
    probe = ("import gc, json, sqlite3, sys, threading\n"
             "from rotwatch.crawl_process import CRAWL_MODULES\n"
             "from rotwatch.main_text_worker import EXTRACTION_MODULES\n"
             "for name in ('rotwatch.shards', *CRAWL_MODULES, *EXTRACTION_MODULES):\n"
             "    __import__(name)\n"
             "print(json.dumps({'reactor': 'twisted.internet.reactor' in sys.modules,\n"
             "    'threads': threading.active_count(),\n"
             "    'connections': sum(isinstance(o, sqlite3.Connection)\n"
             "                       for o in gc.get_objects())}))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, cwd=REPO_ROOT, check=True)
    assert json.loads(done.stdout) == {"reactor": False, "threads": 1, "connections": 0}


def _session(sid: int) -> dict[int, tuple[int, str]]:
    """Live processes of session `sid`: pid → (parent pid, command line)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if stat[0] != b"Z" and int(stat[3]) == sid:
            found[int(entry)] = (int(stat[1]), cmdline.decode(errors="replace"))
    return found


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}")
        time.sleep(0.2)


def _checked(data: Path) -> int:
    if not (data / "rotwatch.db").exists():
        return 0
    return int(query(data, "SELECT count(*) FROM checks")[0][0])


def _start_check(tmp_path: Path, ms: MockServer) -> tuple[subprocess.Popen[bytes], Path]:
    """`rotwatch check` with two crawl processes, in a session of its own, once its two
    fast links are recorded (the slow ones, one at a time per host, still to come)."""
    links = [ms.url("/ok", host=host) for host in (1, 2)]
    links += [ms.url(f"/slow?delay=3&n={n}", host=host)
              for host in (1, 2) for n in range(SLOW_PER_HOST)]
    seed = tmp_path / "seed.md"
    seed.write_text("".join(f"- [link {i}]({url})\n" for i, url in enumerate(links)),
                    encoding="utf-8")
    config = write_config(tmp_path / "rotwatch.toml", ms.ca_file, processes=2,
                          concurrency_per_host=1, obey_robots=False, soft404_probe=False,
                          concurrency_total=2, batch_size=1)
    data = tmp_path / "data"
    base = [sys.executable, "-m", "rotwatch", "--data-dir", str(data), "--config",
            str(config)]
    subprocess.run([*base, "ingest", str(seed)], check=True, capture_output=True,
                   timeout=120, cwd=REPO_ROOT)
    proc = subprocess.Popen([*base, "check", "--allow-private"], cwd=REPO_ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    _wait(lambda: _checked(data) >= 2 or proc.poll() is not None, 120, "the fast links")
    assert proc.poll() is None
    return proc, data


def _kill_all(proc: subprocess.Popen[bytes]) -> None:
    """Whatever of the check is left (crawl processes have process groups of their own)."""
    for pid in [proc.pid, *_session(proc.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(10)


def _crawls_are_forked(sid: int, parent: int) -> None:
    """The crawl processes' parent is the fork server, a child of `rotwatch check`."""
    tree = _session(sid)
    servers = [pid for pid, (ppid, cmd) in tree.items()
               if ppid == parent and "multiprocessing.forkserver" in cmd]
    assert len(servers) == 1, tree
    crawls = [pid for pid, (ppid, _) in tree.items() if ppid == servers[0]]
    assert len(crawls) == 2, tree
    # Each forked its text-extraction worker as it started (a copy of itself, not a
    # spawned interpreter), before any page needed one (rotwatch.main_text_worker).
    for crawl in crawls:
        workers = [cmd for ppid, cmd in tree.values() if ppid == crawl]
        assert workers == [tree[crawl][1]], tree


def test_sigterm_stops_every_crawl_process_and_records_what_was_in_flight(
        tmp_path: Path, mockserver: MockServer) -> None:
    proc, data = _start_check(tmp_path, mockserver)
    try:
        _crawls_are_forked(proc.pid, proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        _wait(lambda: not _session(proc.pid), 30, "every process of the check to end")
    finally:
        _kill_all(proc)
    checked = _checked(data)
    assert 2 <= checked < 2 + 2 * SLOW_PER_HOST  # stopped, not run to the end
    (counts, ended), = query(data, "SELECT counts, ended_at FROM runs WHERE kind = 'check'")
    assert ended and json.loads(counts)["checked"] == checked  # what was in flight too


def test_a_killed_check_takes_its_crawl_processes_along(
        tmp_path: Path, mockserver: MockServer) -> None:
    proc, data = _start_check(tmp_path, mockserver)
    try:
        _crawls_are_forked(proc.pid, proc.pid)
        proc.kill()
        proc.wait(10)
        # The fork server ends with its parent; its crawl processes then get the
        # parent-death SIGTERM and close, instead of crawling every slow link.
        _wait(lambda: not _session(proc.pid), 60, "every process of the check to end")
    finally:
        _kill_all(proc)
    assert _checked(data) < 2 + 2 * SLOW_PER_HOST, _checked(data)
