"""Where a check's wall time goes: a timeline of every process of one `rotwatch check`.

    .venv/bin/python -m benchmarks.crawl_trace [--links 10000] [--per-host 2]
        [--server nginx|mock] [--set KEY=VALUE ...] [--keep]

Runs benchmarks/check.py's workload once (every default on; `concurrency_per_host`,
`concurrency_total` and `delay_per_host = 0` set, plus any ``--set`` of the `[crawl]`
section) with tracing on: ``benchmarks/trace_site`` goes first on PYTHONPATH, so every
Python process of the run (the parent, each spawned crawl process, each text-extraction
worker) records its start (the kernel's creation time) and its exit, and each crawl gets
the CrawlTrace Scrapy extension, which records the engine's start, the first and last
response of every host, the spider's close, and every 0.25 s the downloader's state
(requests active in the downloader and its middlewares, transferring, queued in the
host slots), the scheduler's length, the spider's open targets, responses, items and the
process's CPU time. Nothing in rotwatch knows of it; without ROTWATCH_TRACE_DIR the hook
does nothing. Prints the phases per process, a coarse time series, and per-host spans.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TRACE_SITE = ROOT / "benchmarks" / "trace_site"
EXTENSION = "benchmarks.crawl_trace.CrawlTrace"
SAMPLE_S = 0.25


# ---- in the traced processes -----------------------------------------------------------

def _emit(event: str, **fields: Any) -> None:
    path = Path(os.environ["ROTWATCH_TRACE_DIR"]) / f"trace-{os.getpid()}.jsonl"
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"t": time.time(), "pid": os.getpid(), "ev": event, **fields})
                  + "\n")


def _runqueue_wait() -> float:
    """Seconds this process's threads have waited for a CPU while runnable (Linux
    schedstat): tells a process starved by other load from one idle by design."""
    total = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def install() -> None:
    """Called by trace_site/sitecustomize.py at interpreter start-up."""
    import psutil

    me = psutil.Process()
    _emit("start", created=me.create_time(), ppid=os.getppid(), argv=sys.argv[:4])
    atexit.register(lambda: _emit("exit", cpu=time.process_time()))
    # A crawl process forked from a fork server starts no interpreter (no sitecustomize
    # run, and it leaves by os._exit, past atexit): its start is the fork.
    os.register_at_fork(after_in_child=lambda: _emit(
        "start", created=psutil.Process().create_time(), ppid=os.getppid(),
        argv=["(forked)"]))
    import crawler.fetch.settings as fetch_settings
    import rotwatch.crawl_process as crawl_process

    original = fetch_settings.scrapy_settings

    def traced(*args: Any, **kwargs: Any) -> dict[str, Any]:
        settings = original(*args, **kwargs)
        settings["EXTENSIONS"] = {**settings.get("EXTENSIONS", {}), EXTENSION: 0}
        return settings

    fetch_settings.scrapy_settings = traced
    shard = crawl_process.crawl_shard

    def traced_shard(*args: Any, **kwargs: Any) -> Any:
        # What a crawl process does before its engine starts, step by step.
        _emit("crawl_shard", cpu=time.process_time())
        import scrapy.crawler

        import rotwatch.recorder

        _timed(rotwatch.recorder.Recorder, "__init__", "recorder_init")
        _timed(rotwatch.recorder.Recorder, "close", "recorder_close")
        _timed(scrapy.crawler.AsyncCrawlerProcess, "__init__", "crawler_process_init")
        _timed(scrapy.crawler.AsyncCrawlerProcess, "start", "reactor_run")
        _emit("imported", cpu=time.process_time())
        try:
            return shard(*args, **kwargs)
        finally:
            _emit("shard_done", cpu=time.process_time())

    crawl_process.crawl_shard = traced_shard


def _timed(owner: Any, name: str, label: str) -> None:
    """Wrap owner.name to record when it starts and ends."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _emit(label + ">", cpu=time.process_time())
        try:
            return original(*args, **kwargs)
        finally:
            _emit(label + "<", cpu=time.process_time())

    setattr(owner, name, wrapper)


class CrawlTrace:
    """A Scrapy extension: the crawl's phases and its downloader's state over time."""

    def __init__(self, crawler: Any) -> None:
        from scrapy import signals

        self.crawler = crawler
        self.responses = 0
        self.items = 0
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.count: Counter[str] = Counter()
        self.loop: Any = None
        for handler, signal in ((self.engine_started, signals.engine_started),
                                (self.spider_closed, signals.spider_closed),
                                (self.response, signals.response_received),
                                (self.item, signals.item_scraped)):
            crawler.signals.connect(handler, signal=signal, weak=False)

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlTrace:
        return cls(crawler)

    def engine_started(self) -> None:
        from twisted.internet import task

        _emit("engine_started", cpu=time.process_time())
        self.loop = task.LoopingCall(self.sample)
        self.loop.start(SAMPLE_S, now=True)

    def response(self, response: Any, request: Any, spider: Any) -> None:
        now = time.time()
        host = request.meta.get("download_slot") or ""
        if self.responses == 0:
            _emit("first_response", cpu=time.process_time())
        self.responses += 1
        self.first.setdefault(host, now)
        self.last[host] = now
        self.count[host] += 1

    def item(self, item: Any, response: Any, spider: Any) -> None:
        self.items += 1

    def sample(self) -> None:
        engine = self.crawler.engine
        if engine is None:
            return
        downloader = engine.downloader
        slots = list(downloader.slots.values())
        scheduler = engine.scheduler
        spider = engine.spider
        _emit("sample", active=len(downloader.active),
              transferring=sum(len(s.transferring) for s in slots),
              queued=sum(len(s.queue) for s in slots),
              scheduler=len(scheduler) if scheduler is not None else -1,
              open=len(getattr(spider, "_open", ())), responses=self.responses,
              items=self.items, cpu=time.process_time(), wait=_runqueue_wait())

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        _emit("spider_closed", reason=reason, cpu=time.process_time(),
              hosts={h: [self.first[h], self.last[h], self.count[h]] for h in self.first})


# ---- the benchmark side ------------------------------------------------------------------

def analyse(trace_dir: Path) -> str:
    """The phases per process, a time series per crawl process, per-host spans."""
    events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for path in trace_dir.glob("trace-*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            events[event["pid"]].append(event)
    starts = {pid: next(e for e in evs if e["ev"] == "start") for pid, evs in events.items()
              if any(e["ev"] == "start" for e in evs)}
    if not starts:
        return "no trace recorded"
    t0 = min(s["created"] for s in starts.values())
    lines = ["phases (seconds from the first process's creation; cpu = that process's own)"]
    for pid, evs in sorted(events.items(), key=lambda kv: starts[kv[0]]["created"]
                           if kv[0] in starts else 0):
        start = starts.get(pid)
        if start is None:
            continue
        role = ("crawl" if any(e["ev"] == "engine_started" for e in evs)
                else "parent" if "rotwatch" in " ".join(start["argv"]) else
                "worker " + " ".join(start["argv"])[:40])
        marks = [f"created {start['created'] - t0:6.2f}", f"python up {start['t'] - t0:6.2f}"]
        for e in evs:
            if e["ev"] not in ("start", "sample"):
                marks.append(f"{e['ev']} {e['t'] - t0:6.2f} (cpu {e.get('cpu', 0):.1f})")
        lines.append(f"pid {pid} [{role}]: " + "; ".join(marks))
        samples = [e for e in evs if e["ev"] == "sample"]
        if samples:
            lines.append("    t      resp/s  cpu% wait%  active transf queued sched open items")
            step = max(1, int(2.0 / SAMPLE_S))
            for a, b in zip(samples[::step], samples[step::step], strict=False):
                dt = b["t"] - a["t"]
                lines.append(
                    f"    {b['t'] - t0:6.1f} {(b['responses'] - a['responses']) / dt:7.0f} "
                    f"{100 * (b['cpu'] - a['cpu']) / dt:5.0f} "
                    f"{100 * (b['wait'] - a['wait']) / dt:5.0f} {b['active']:6} "
                    f"{b['transferring']:6} {b['queued']:6} {b['scheduler']:5} "
                    f"{b['open']:4} {b['items']:5}")
        if len(samples) > 1:
            a, b = samples[0], samples[-1]
            span = b["t"] - a["t"]
            cpu, wait = b["cpu"] - a["cpu"], b["wait"] - a["wait"]
            lines.append(f"    crawl phase {span:.1f}s: on CPU {cpu:.1f}s ({cpu / span:.0%}; the "
                         f"reactor's and the recorder's threads), waiting for a CPU {wait:.1f}s "
                         f"({wait / span:.0%}), the rest idle")
        closed = next((e for e in evs if e["ev"] == "spider_closed"), None)
        if closed:
            spans = sorted(closed["hosts"].items(), key=lambda kv: kv[1][1])
            lines.append("    host spans (first → last response, responses):")
            lines += [f"      {h:28} {f - t0:6.2f} → {la - t0:6.2f}  {n}"
                      for h, (f, la, n) in spans]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    from benchmarks.check import (
        DELAY_MS,
        HOSTS,
        MAX_TOTAL,
        RETRIES,
        rotwatch_config,
        rotwatch_verdicts,
        status_for,
        workload,
        write_seeds,
    )
    from benchmarks.measure import BIN, Result, Setup, measure, score
    from benchmarks.servers import SERVERS, target_server

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--links", type=int, default=10_000)
    p.add_argument("--per-host", type=int, default=2)
    p.add_argument("--server", choices=SERVERS, default="nginx")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="another [crawl] setting, TOML syntax (e.g. processes=1)")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="rotwatch-trace-"))
    try:
        pages = [(status_for(i), str(i)) for i in range(args.links)]
        with target_server(args.server, pages, hosts=HOSTS, delay_ms=DELAY_MS) as srv:
            urls, expected = workload(srv, args.links)
            seeds = write_seeds(work / "seeds", urls)
            data = work / "data"
            ingest = Result("ingest", args.links)
            measure([str(BIN / "rotwatch"), "--data-dir", str(data), "ingest", str(seeds)],
                    600, ingest)
            setup = Setup(args.per_host, min(HOSTS * args.per_host, MAX_TOTAL), RETRIES)
            cfg = work / "rotwatch.toml"
            rotwatch_config(cfg, setup, features=True)
            crawl = dict(line.split(" = ", 1) for line in
                         cfg.read_text(encoding="utf-8").splitlines()[1:])
            crawl |= dict(item.replace(" ", "").split("=", 1) for item in args.set)
            cfg.write_text("[crawl]\n" + "".join(f"{k} = {v}\n" for k, v in crawl.items()),
                           encoding="utf-8")
            trace_dir = work / "trace"
            trace_dir.mkdir()
            env = dict(os.environ, ROTWATCH_TRACE_DIR=str(trace_dir),
                       PYTHONPATH=os.pathsep.join([str(TRACE_SITE), str(ROOT)]))
            before = srv.usage()
            result = Result("rotwatch, traced", args.links)
            measure([str(BIN / "rotwatch"), "--config", str(cfg), "--data-dir", str(data),
                     "check", "--all", "--allow-private"], 900, result, env=env)
            spent = srv.usage() - before
            score(result, expected, rotwatch_verdicts(data))
        print(analyse(trace_dir))
        print(f"\nrotwatch check: wall {result.wall_s:.1f}s, CPU {result.cpu_s:.1f}s "
              f"({result.cpu_per_1000:.2f} s/1k), exit {result.exit_code}, wrong "
              f"{result.wrong}, missing {result.missing}; server {args.server}: "
              f"{spent.cpu_s:.2f} CPU-s for {spent.requests} requests{result.note}")
        for example in result.examples:
            print("   ", example)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
