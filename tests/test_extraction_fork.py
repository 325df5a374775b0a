"""A text-extraction worker forked from its crawl process: started at once, shared pages,
never lost when it dies, gone when its crawl process is killed; spawned when forking is
not safe (another thread runs).

Each case runs in a fresh interpreter: forking needs a process with one thread, which a
pytest process that ran other tests need not be.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import REPO_ROOT
from tests.test_extraction import PAGE

SETUP = f"""
import json, os, signal, sys, threading
from rotwatch.main_text_worker import TextExtractor
PAGE = {PAGE!r}
"""


def _run(code: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", SETUP + code], capture_output=True,
                          text=True, timeout=180, cwd=REPO_ROOT, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        return fh.read().replace(b"\0", b" ").decode(errors="replace")


def test_the_worker_is_forked_at_once_and_a_dead_one_loses_no_page() -> None:
    got = _run("""
extractor = TextExtractor(fork_now=True)
workers = list(extractor._pool._processes.values())
pid = workers[0].pid
forked = open(f"/proc/{pid}/cmdline", "rb").read() == open("/proc/self/cmdline", "rb").read()
first = extractor.submit(PAGE, "http://example.org/a", "utf-8").result(timeout=120).text
os.kill(pid, signal.SIGKILL)
workers[0].join(timeout=30)
texts = []
for _ in range(3):
    try:
        texts.append(extractor.submit(PAGE, "http://example.org/a", "utf-8")
                     .result(timeout=60).text)
    except Exception:
        continue  # submitted just before the pool noticed the death
extractor.close()
print(json.dumps({"workers": len(workers), "other": pid != os.getpid(), "forked": forked,
                  "first": first, "after": texts[-1] if texts else None}))
""")
    assert got["workers"] == 1 and got["other"] is True
    assert got["forked"] is True  # a copy of this process, not a new interpreter
    assert "the river rose overnight" in str(got["first"])
    assert "Contact us" not in str(got["first"])
    assert "the river rose overnight" in str(got["after"])  # extracted in-process


def test_with_another_thread_running_the_worker_is_spawned_on_first_use() -> None:
    got = _run("""
stop = threading.Event()
threading.Thread(target=stop.wait).start()
extractor = TextExtractor(fork_now=True)
started = extractor._pool is not None
text = extractor.submit(PAGE, "http://example.org/a", "utf-8").result(timeout=120).text
pid = list(extractor._pool._processes.values())[0].pid
spawned = b"spawn_main" in open(f"/proc/{pid}/cmdline", "rb").read()
extractor.close()
stop.set()
print(json.dumps({"started": started, "spawned": spawned, "text": text}))
""")
    assert got["started"] is False and got["spawned"] is True
    assert "the river rose overnight" in str(got["text"])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_a_forked_worker_ends_with_its_killed_crawl_process() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SETUP + """
extractor = TextExtractor(fork_now=True)
print(list(extractor._pool._processes.values())[0].pid, flush=True)
threading.Event().wait()
"""], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    worker = 0
    try:
        assert proc.stdout is not None
        worker = int(proc.stdout.readline())
        assert _alive(worker) and "-c" in _cmdline(worker)
        proc.kill()
        proc.wait(30)
        deadline = time.monotonic() + 60
        while _alive(worker):
            if time.monotonic() > deadline:
                pytest.fail("the worker outlived its killed parent")
            time.sleep(0.2)
    finally:
        proc.kill()
        if worker and _alive(worker):
            os.kill(worker, signal.SIGKILL)
