"""A check spread over a fleet of real Scrapyd servers, against the loopback mock server.

Three `scrapyd` processes on 127.0.0.2-4 (each with its own eggs, logs, items and dbs
directories), a shared results directory, and `rotwatch check` as a child process: the
fleet gives the same verdicts as a local check, checks each link once, keeps each host's
in-flight requests within the limit, survives a node killed mid-run, and asks a second
vantage before a link is called failing.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc.reader import read_response
from rotwatch.cluster.egg import build_egg
from rotwatch.cluster.plan import shard_of
from rotwatch.cluster.scrapyd_api import NodeError, NodeUnreachable, ScrapydNode
from rotwatch.config import ConfigError, load_config
from tests import fleet_setup
from tests.conftest import REPO_ROOT, MockServer
from tests.fleet import ScrapydServer, free_port
from tests.fleet_setup import seed, verdicts
from tests.helpers import query, rotwatch, write_config

PER_HOST = 2
LINKS = 700  # 100 per host; a slow test runs 4,200
REFUSING_HOST = 8  # 127.0.0.9 refuses connections from 127.0.0.5 (node c's network)
LOCAL_REFUSING_HOST = 9  # 127.0.0.10 refuses 127.0.0.1 (this machine's usual source)
# Crawl settings of every check here: no retries and no soft-404 probes (a probe has a
# download slot of its own, which would make the per-host count include probes).
CRAWL = {"retry_times": 0, "soft404_probe": False, "concurrency_per_host": PER_HOST,
         "concurrency_total": 16}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(hosts=["127.0.0.2-10"], tls=False, bomb_mb=0,
                    extra_args=["--refuse", "127.0.0.9=127.0.0.5",
                                "--refuse", "127.0.0.10=127.0.0.1"]) as server:
        yield server


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ScrapydServer]]:
    base = tmp_path_factory.mktemp("nodes")
    servers = {"a": ScrapydServer(base / "a", "127.0.0.2"),
               "b": ScrapydServer(base / "b", "127.0.0.3"),
               # node c checks from another network: its crawls connect from 127.0.0.5
               "c": ScrapydServer(base / "c", "127.0.0.4",
                                  env={"ROTWATCH_BIND_ADDRESS": "127.0.0.5"})}
    try:
        for server in servers.values():
            server.start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def fleet_config(path: Path, shared: Path, urls: list[str], vantage: list[str] | None = None,
                 **crawl: Any) -> Path:
    extra = [f"vantage = {json.dumps(vantage)}"] if vantage else []
    return fleet_setup.fleet_config(path, {**CRAWL, **crawl}, str(shared), urls, extra)


# ---- one check, two ways ---------------------------------------------------------------------

def run_compare(mock: MockServer, nodes: dict[str, ScrapydServer], base: Path,
                links: int) -> dict[str, Any]:
    """The same seed checked locally and through nodes a and b, read back."""
    kinds = ["200", "404", "301", "500", "410", "403"]
    # 7 hosts (not the refusing ones), each host in one shard; plus a few routes with
    # verdicts of their own.
    urls = [mock.url(f"/bench/{kinds[i % len(kinds)]}/{i}", host=i % 7 + 1)
            for i in range(links)]
    urls += [mock.url("/loop/a", host=2), mock.url("/private/p", host=3),
             mock.url("/challenge", host=4), "http://127.0.0.1:1/refused"]
    seed_file = seed(base / "seed.md", urls)
    local_data, fleet_data = base / "local", base / "fleet"
    local_cfg = write_config(base / "local.toml", **CRAWL, processes=1)
    fleet_cfg = fleet_config(base / "fleet.toml", base / "shared",
                             [nodes["a"].url, nodes["b"].url])
    for data, cfg in ((local_data, local_cfg), (fleet_data, fleet_cfg)):
        done = rotwatch(data, "ingest", str(seed_file), config=cfg)
        assert done.returncode == 0, done.stderr
    local = rotwatch(local_data, "check", "--allow-private", config=local_cfg,
                     timeout=280 + links // 10)
    for host in range(1, 8):  # not 127.0.0.10: it refuses this machine's usual address
        mock.reset(host)
    fleet = rotwatch(fleet_data, "check", "--allow-private", config=fleet_cfg,
                     timeout=280 + links // 10)
    return {"urls": urls, "local": local, "fleet": fleet, "local_data": local_data,
            "fleet_data": fleet_data, "shared": base / "shared",
            "logs": {h: mock.log(h) for h in range(1, 8)},
            "stats": {h: mock.stats(h) for h in range(1, 8)}}


@pytest.fixture(scope="module")
def compared(mock: MockServer, nodes: dict[str, ScrapydServer],
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_compare(mock, nodes, tmp_path_factory.mktemp("compare"), LINKS)


@pytest.mark.slow
def test_a_few_thousand_links_through_the_fleet_match_a_local_check(
        mock: MockServer, nodes: dict[str, ScrapydServer], tmp_path: Path) -> None:
    done = run_compare(mock, nodes, tmp_path, 4200)
    assert verdicts(done["fleet_data"]) == verdicts(done["local_data"])
    assert query(done["fleet_data"], "SELECT count(*), count(DISTINCT target_id) "
                                     "FROM checks") == [(4204, 4204)]
    assert all(1 <= s["max_inflight"] <= PER_HOST for s in done["stats"].values())


def test_fleet_gives_the_local_verdicts(compared: dict[str, Any]) -> None:
    assert compared["fleet"].returncode == 2, compared["fleet"].stderr  # broken links found
    assert compared["local"].returncode == 2, compared["local"].stderr
    local, fleet = verdicts(compared["local_data"]), verdicts(compared["fleet_data"])
    assert len(fleet) == len(compared["urls"])
    assert fleet == local
    assert {"ok", "broken", "redirected", "server-error", "blocked", "redirect-loop",
            "robots-disallowed", "connection-failed"} <= set(fleet.values())


def test_each_link_checked_once_and_shards_ingested_once(compared: dict[str, Any]) -> None:
    data = compared["fleet_data"]
    assert query(data, "SELECT target_id FROM checks GROUP BY target_id "
                       "HAVING count(*) != 1") == []
    shards = query(data, "SELECT shard, status, attempt, targets, checks FROM fleet_shards")
    assert len(shards) == 2
    assert all(s[1] == "ingested" and s[2] == 0 and s[3] == s[4] for s in shards)
    assert sum(s[3] for s in shards) == len(compared["urls"])
    # the servers saw each cited /bench page once (one GET per link, across the nodes)
    paths = [e["path"] for log in compared["logs"].values() for e in log
             if e["path"].startswith("/bench/") and "-moved" not in e["path"]]
    assert len(paths) == len(set(paths)) == LINKS


def test_per_host_in_flight_never_above_the_limit(compared: dict[str, Any]) -> None:
    for host, stats in compared["stats"].items():
        assert stats["requests"] > LINKS // 7, host  # a busy host, not an idle one
        assert 1 <= stats["max_inflight"] <= PER_HOST, (host, stats)


def test_snapshots_registered_and_readable(compared: dict[str, Any]) -> None:
    data = compared["fleet_data"]
    rows = query(data, "SELECT s.warc_file, s.warc_offset, s.url FROM snapshots s "
                       "ORDER BY s.id")
    assert len(rows) >= LINKS
    files = {r[0] for r in rows}
    assert all((data / "warcs" / f).is_file() for f in files)
    for warc_file, offset, url in rows[:: max(1, len(rows) // 50)]:
        assert read_response(data / "warcs", warc_file, offset).url == url
    # nothing left behind in the shared directory's attempts
    assert not list(compared["shared"].glob("runs/*/*/attempt-*/warcs/*.warc.gz"))


# ---- a fleet stores what a local check stores -------------------------------------------------

PARITY_LINKS = 210  # 30 per host: pages with and without validators, redirects, retried 500s
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


def _article(title: str, topic: str) -> str:
    body = "".join(f"<p>Paragraph {i} of a long report on {topic}, with details that "
                   f"differ from one paragraph ({i * 7}) to the next.</p>" for i in range(12))
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"


def _store_rows(data: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The store's checks, snapshots and targets, without ids, times, vantage or places in
    WARC files (which differ between any two runs)."""
    return {
        "checks": query(data, "SELECT t.url, c.final_url, c.status, c.hops, c.verdict, "
                              "c.reason, c.permanent_redirect, c.error_kind, c.retries, "
                              "c.content_length, c.content_hash, c.similarity, c.drifted, "
                              "c.snapshot_id IS NOT NULL, c.headers FROM checks c JOIN "
                              "targets t ON t.id = c.target_id ORDER BY t.url, c.checked_at"),
        "snapshots": query(data, "SELECT t.url, s.url, s.payload_digest, s.record_type, "
                                 "s.mime, s.title, s.text, s.truncated, s.status, s.capture, "
                                 "s.warc_date IS NOT NULL FROM snapshots s JOIN targets t ON "
                                 "t.id = s.target_id ORDER BY t.url, s.fetched_at, s.id"),
        "targets": query(data, "SELECT url, state, last_verdict, consecutive_failures, "
                               "recent_checks, baseline_snapshot_id IS NOT NULL, "
                               "good_snapshot_id IS NOT NULL, json_extract(validators, '$.url'),"
                               " json_extract(validators, '$.etag'), json_extract(validators,"
                               " '$.last_modified') FROM targets ORDER BY url")}


@pytest.fixture(scope="module")
def parity(mock: MockServer, nodes: dict[str, ScrapydServer],
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same links checked twice locally and twice through nodes a and b."""
    base = tmp_path_factory.mktemp("parity")
    kinds = ["200/p{}?validators=on", "200/p{}", "301/p{}", "500/p{}", "404/p{}"]
    urls = [mock.url(f"/bench/{kinds[i % len(kinds)].format(i)}", host=i % 7 + 1)
            for i in range(PARITY_LINKS)]
    # a page rewritten between the passes (drift), one kept, and soft-404s (probes)
    rewritten = [f"{base.name}-{n}" for n in ("drift", "kept")]
    urls += [mock.set_page(name, _article(name, "ferry timetables")) + "?validators=on"
             for name in rewritten]
    # one soft-404: two would serve one payload, which a local check stores with or
    # without text depending on how its batches fall (both are revisits)
    urls.append(mock.url(f"/gone/{base.name}", host=2))  # 127.0.0.3 answers 200 "Sorry"
    seed_file = seed(base / "seed.md", urls)
    crawl = {**CRAWL, "retry_times": 1, "retry_backoff": 0.1, "soft404_probe": True}
    configs = {"local": write_config(base / "local.toml", **crawl, processes=1),
               "fleet": fleet_config(base / "fleet.toml", base / "shared",
                                     [nodes["a"].url, nodes["b"].url], **crawl)}
    done: dict[str, Any] = {"urls": urls}
    for name, cfg in configs.items():
        assert rotwatch(base / name, "ingest", str(seed_file), config=cfg).returncode == 0
    for run in ("check", "recheck"):
        if run == "recheck":
            mock.set_page(rewritten[0], "<html><head><title>Bakery</title></head><body>"
                          + "".join(f"<p>Sourdough loaf {i}: rye, spelt and {i * 3} grams "
                                    "of salt, baked before dawn.</p>" for i in range(9))
                          + "</body></html>")
        for name, cfg in configs.items():
            args = ["check", "--allow-private"] + (["--all"] if run == "recheck" else [])
            checked = rotwatch(base / name, *args, config=cfg, timeout=300)
            assert checked.returncode == 2, checked.stderr  # the 404s
    for name, cfg in configs.items():
        done[name] = base / name
        done[f"{name}-verify"] = rotwatch(base / name, "verify", config=cfg)
        done[f"{name}-export"] = rotwatch(base / name, "export", "--all-captures", "-o",
                                          str(base / f"{name}.warc.gz"), config=cfg)
    return done


def test_a_fleet_check_stores_what_a_local_check_stores(parity: dict[str, Any]) -> None:
    local, fleet = _store_rows(parity["local"]), _store_rows(parity["fleet"])
    assert len(fleet["checks"]) == 2 * len(parity["urls"])
    for table in ("targets", "checks", "snapshots"):
        assert fleet[table] == local[table], table
    # the runs' counts too (a fleet's "processes" is its node count)
    runs = {name: [(status, code, {k: v for k, v in json.loads(counts).items()
                                   if k != "processes"})
                   for status, code, counts in query(parity[name], "SELECT status, "
                                                     "exit_code, counts FROM runs ORDER BY id")]
            for name in ("local", "fleet")}
    assert runs["fleet"] == runs["local"] and len(runs["fleet"]) == 2
    # the rows compared hold what they should: drift, soft-404s, 304s
    recheck = {row[0]: (row[11], row[12]) for row in fleet["checks"]}  # the later check
    drift, kept = parity["urls"][-3:-1]
    assert recheck[drift][1] == 1 and recheck[drift][0] < 0.5 and recheck[kept] == (1.0, 0)
    verdicts = [row[4] for row in fleet["checks"]]
    assert verdicts.count("soft-404") == 2
    assert verdicts.count("server-error") == 2 * (PARITY_LINKS // 5)
    # redirect hops and retried 500s have rows of their own, in both
    captures = dict(query(parity["fleet"], "SELECT capture, count(*) FROM snapshots "
                                           "GROUP BY capture"))
    assert captures["attempt"] == 2 * 2 * (PARITY_LINKS // 5), captures  # 301s, 500s


def test_a_fleet_recheck_sends_validators_and_writes_revisits(parity: dict[str, Any]) -> None:
    data = parity["fleet"]
    second = query(data, "SELECT c.status, c.verdict, s.record_type, s.warc_file, "
                         "s.warc_offset, c.url FROM checks c JOIN snapshots s ON s.id = "
                         "c.snapshot_id WHERE c.run_id = (SELECT max(run_id) FROM checks)")
    not_modified = [r for r in second if r[0] == 304]
    assert len(not_modified) == PARITY_LINKS // 5 + 1, second  # and the page kept
    assert all(r[1] == "ok" and r[2] == "revisit" for r in not_modified)
    # every unchanged 200 (a page without validators, a redirect's target, a soft-404) is
    # a revisit too; the rewritten page is archived whole
    drift = parity["urls"][-3]
    assert {r[2] for r in second if r[0] == 200 and r[5] != drift} == {"revisit"}
    assert [r[2] for r in second if r[5] == drift] == ["response"]
    with open(data / "warcs" / not_modified[0][3], "rb") as fh:
        fh.seek(not_modified[0][4])
        record = next(iter(ArchiveIterator(fh)))
        assert record.rec_headers.get_header("WARC-Profile") == SERVER_NOT_MODIFIED


def test_verify_and_export_find_every_record_a_node_wrote(parity: dict[str, Any]) -> None:
    for name in ("local", "fleet"):
        verified = parity[f"{name}-verify"]
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert " 0 problem(s)" in verified.stderr
        assert parity[f"{name}-export"].returncode == 0, parity[f"{name}-export"].stderr
    wrote = {name: parity[f"{name}-export"].stderr.split(" to ")[0]
             for name in ("local", "fleet")}
    assert wrote["fleet"] == wrote["local"] and wrote["fleet"].startswith("wrote ")


# ---- a second vantage ------------------------------------------------------------------------

def test_a_link_that_works_from_elsewhere_is_regional_not_failing(
        mock: MockServer, nodes: dict[str, ScrapydServer], tmp_path: Path) -> None:
    urls = [mock.url(f"/page/v{i}", host=REFUSING_HOST) for i in range(6)]
    urls.append("http://127.0.0.1:1/dead")  # refused from everywhere
    seed_file = seed(tmp_path / "seed.md", urls)
    data = tmp_path / "data"
    done = rotwatch(data, "ingest", str(seed_file), config=write_config(tmp_path / "x.toml"))
    assert done.returncode == 0, done.stderr
    # The refusing host's shard starts on node c ("west", whose network it refuses).
    host = query(data, "SELECT host FROM targets WHERE url = ?", urls[0])[0][0]
    order = [nodes["c"], nodes["a"]] if shard_of(host, 2) == 0 else [nodes["a"], nodes["c"]]
    labels = ["west" if n is nodes["c"] else "east" for n in order]
    cfg = fleet_config(tmp_path / "v.toml", tmp_path / "shared", [n.url for n in order],
                       labels)
    checked = rotwatch(data, "check", "--allow-private", config=cfg, timeout=200)
    assert checked.returncode == 2, checked.stderr  # the dead link
    for url in urls[:-1]:
        history = query(data, "SELECT verdict, vantage, reason FROM checks c JOIN targets t "
                              "ON t.id = c.target_id WHERE t.url = ? ORDER BY c.checked_at, "
                              "c.id", url)
        assert [(v, where) for v, where, _ in history] == [("ok", "east"),
                                                           ("blocked", "west")], history
        assert history[1][2].startswith("regional: connection-failed from west")
        assert query(data, "SELECT state FROM targets WHERE url = ?", url) == [("blocked",)]
    dead = query(data, "SELECT verdict, reason FROM checks c JOIN targets t ON "
                       "t.id = c.target_id WHERE t.url = ?", urls[-1])
    assert len(dead) == 1 and dead[0][0] == "connection-failed", dead
    assert "also connection-failed from" in dead[0][1]
    assert query(data, "SELECT state FROM targets WHERE url = ?", urls[-1]) == [("failing",)]
    # the report's JSON says which vantage saw what
    report = rotwatch(data, "report", "--format", "json", config=cfg)
    links = {link["target_url"]: link for seed in json.loads(report.stdout)["seeds"]
             for link in seed["links"]}
    assert links[urls[-1]]["vantage"] in ("east", "west")
    assert "also connection-failed from" in links[urls[-1]]["reason"]
    assert links[urls[0]]["vantage"] == "west" and links[urls[0]]["state"] == "blocked"
    assert "; ok from east" in links[urls[0]]["reason"]


def test_without_a_fleet_a_second_source_address_confirms(mock: MockServer,
                                                          tmp_path: Path) -> None:
    urls = [mock.url(f"/page/l{i}", host=LOCAL_REFUSING_HOST) for i in range(3)]
    urls += [mock.url("/ok", host=1), "http://127.0.0.1:1/dead"]
    data = tmp_path / "data"
    cfg = write_config(tmp_path / "l.toml", **CRAWL)
    with cfg.open("a", encoding="utf-8") as out:
        out.write('\n[cluster]\nconfirm_bind_address = "127.0.0.6"\n')
    assert rotwatch(data, "ingest", str(seed(tmp_path / "s.md", urls)),
                    config=cfg).returncode == 0
    checked = rotwatch(data, "check", "--allow-private", config=cfg)
    assert checked.returncode == 2, checked.stderr  # the dead link, not the regional ones
    assert "connection-failed=1" in checked.stdout and "blocked=3" in checked.stdout
    for url in urls[:3]:
        history = query(data, "SELECT verdict, vantage, reason FROM checks c JOIN targets t "
                              "ON t.id = c.target_id WHERE t.url = ? ORDER BY c.checked_at, "
                              "c.id", url)
        assert [(v, where) for v, where, _ in history] == [
            ("ok", "source 127.0.0.6"), ("blocked", "this machine")], history
        assert history[1][2].startswith("regional: connection-failed from this machine")
        assert query(data, "SELECT state FROM targets WHERE url = ?", url) == [("blocked",)]
    assert query(data, "SELECT count(*), max(verdict) FROM checks c JOIN targets t ON "
                       "t.id = c.target_id WHERE t.url = ?", urls[-1]) == [
        (1, "connection-failed")]
    assert query(data, "SELECT count(*) FROM checks c JOIN targets t ON "
                       "t.id = c.target_id WHERE t.url = ?", urls[3]) == [(1,)]


# ---- nodes that fail -------------------------------------------------------------------------

@pytest.mark.parametrize(("table", "message"), [
    ('scrapyd = ["ftp://node:6800"]\nshared_dir = "/s"', "not an http(s) URL"),
    ('scrapyd = ["http://a:6800", "http://a:6800"]\nshared_dir = "/s"', "listed twice"),
    ('scrapyd = ["http://a:6800"]', "shared_dir: required"),
    ('scrapyd = ["http://a:6800"]\nshared_dir = "/s"\nvantage = ["x", "y"]',
     "2 labels for 1 nodes"),
    ("max_attempts = 0", "max_attempts: must be in"),
    ('scrapyd = ["http://a:6800"]\nshared_dir = "s3://id:pw@bucket/rw"', "without credentials"),
    ('shared_dir = "s3://bucket/rw"\nstorage_options = { secret = "x" }',
     "'secret' looks like a credential"),
    ('shared_dir = "/s"\nstorage_options = { endpoint_url = "http://s3" }',
     "only for an object storage URL"),
    ('shared_dir = "s3:/bucket"', "not an absolute directory path nor an object storage"),
    ('scrapyd = ["http://a:6800"]\nshared_dir = "shared"', "not an absolute directory"),
])
def test_cluster_config_is_checked_up_front(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[cluster]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path, tmp_path)


def test_without_cluster_nothing_changes(tmp_path: Path) -> None:
    assert not load_config(None, tmp_path).cluster.enabled


def test_egg_is_reproducible_and_names_its_settings() -> None:
    first, second = build_egg(), build_egg()
    assert first == second and first.version.startswith("r")
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(first.data)) as egg:
        names = set(egg.namelist())
        assert "rotwatch/cluster/node_spider.py" in names
        assert egg.read("EGG-INFO/entry_points.txt").decode() == (
            "[scrapy]\nsettings = rotwatch.cluster.node_settings\n")


def test_an_unreachable_node_is_named() -> None:
    node = ScrapydNode(f"http://127.0.0.2:{free_port('127.0.0.2')}", timeout=1, attempts=2)
    with pytest.raises(NodeUnreachable, match=r"127\.0\.0\.2"):
        node.jobs()


def test_no_node_answers_is_one_clear_error(tmp_path: Path) -> None:
    dead = f"http://127.0.0.2:{free_port('127.0.0.2')}"
    cfg = fleet_config(tmp_path / "c.toml", tmp_path / "shared", [dead])
    # One public link due, so the check has work to hand to the (dead) fleet: a check
    # with nothing due starts no crawl and asks no node.
    seed_file = seed(tmp_path / "s.md", ["https://example.org/cited"])
    assert rotwatch(tmp_path / "data", "ingest", str(seed_file), config=cfg).returncode == 0
    done = rotwatch(tmp_path / "data", "check", config=cfg)
    assert done.returncode == 1
    assert "no Scrapyd node answered" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def _start_check(data: Path, cfg: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rotwatch", "--data-dir", str(data), "--config", str(cfg),
         "check", "--allow-private"], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_running(node: ScrapydNode, check: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while True:
        with contextlib.suppress(NodeError):  # "project not found" until the egg is there
            if node.jobs().running:
                return
        assert time.monotonic() < deadline, f"{node.url} never ran a shard"
        assert check.poll() is None, check.communicate()
        time.sleep(0.1)


def test_sigterm_cancels_the_fleet_jobs(mock: MockServer, nodes: dict[str, ScrapydServer],
                                        tmp_path: Path) -> None:
    # 2 s pages: the jobs are surely still running when the coordinator is stopped.
    urls = [mock.url(f"/bench/200/t{i}?delay_ms=2000", host=i % 4 + 1) for i in range(80)]
    data = tmp_path / "data"
    cfg = fleet_config(tmp_path / "t.toml", tmp_path / "shared",
                       [nodes["a"].url, nodes["c"].url])
    assert rotwatch(data, "ingest", str(seed(tmp_path / "s.md", urls)),
                    config=cfg).returncode == 0
    check = _start_check(data, cfg)
    apis = [ScrapydNode(nodes[n].url) for n in ("a", "c")]
    try:
        for api in apis:
            _wait_running(api, check)
        check.send_signal(signal.SIGTERM)
        out, err = check.communicate(timeout=60)
    finally:
        if check.poll() is None:
            check.kill()
    assert check.returncode == 1, (out, err)
    assert "cancelled" in out + err and "Traceback" not in err
    deadline = time.monotonic() + 60  # the crawls close gracefully (in-flight pages end)
    while any(api.jobs().running or api.jobs().pending for api in apis):
        assert time.monotonic() < deadline, [api.jobs() for api in apis]
        time.sleep(0.2)
    assert {s for (s,) in query(data, "SELECT status FROM fleet_shards")} == {"cancelled"}
    assert query(data, "SELECT status FROM runs WHERE kind = 'check'") == [("failed",)]
    # far fewer than 80 pages were checked (2 s each, 2 at a time per host): nothing waited
    assert query(data, "SELECT count(*) FROM checks")[0][0] == 0


def test_a_node_killed_mid_run_has_its_shard_finished_elsewhere(
        mock: MockServer, nodes: dict[str, ScrapydServer], tmp_path: Path) -> None:
    # Slow pages (100 ms each, 2 at a time per host): each shard runs for seconds.
    urls = [mock.url(f"/bench/200/k{i}?delay_ms=100", host=i % 6 + 1) for i in range(240)]
    seed_file = seed(tmp_path / "seed.md", urls)
    data = tmp_path / "data"
    cfg = fleet_config(tmp_path / "k.toml", tmp_path / "shared",
                       [nodes[n].url for n in ("a", "b", "c")])
    assert rotwatch(data, "ingest", str(seed_file), config=cfg).returncode == 0
    check = _start_check(data, cfg)
    try:
        _wait_running(ScrapydNode(nodes["b"].url), check)
        nodes["b"].kill()
        out, err = check.communicate(timeout=240)
    finally:
        if check.poll() is None:
            check.kill()
    assert check.returncode == 0, (out, err)
    # every link checked, none twice
    assert query(data, "SELECT count(*), count(DISTINCT target_id) FROM checks") == [(240, 240)]
    assert query(data, "SELECT verdict, count(*) FROM checks GROUP BY verdict") == [("ok", 240)]
    shards = {s: (node, attempt, status) for s, node, attempt, status in query(
        data, "SELECT shard, node, attempt, status FROM fleet_shards")}
    moved = [s for s, (node, attempt, _) in shards.items() if attempt == 1]
    assert len(moved) == 1, shards
    assert shards[moved[0]][0] != nodes["b"].url
    assert all(status == "ingested" for _, _, status in shards.values())
    # status shows the fleet: the vanished node, and where each shard ran
    shown = rotwatch(data, "status", config=cfg)
    assert shown.returncode == 0, shown.stderr
    assert f"{nodes['b'].url} [default]: unreachable" in shown.stdout
    assert f"{nodes['a'].url} [default]: pending=0 running=0" in shown.stdout
    assert f"shard {moved[0]}: ingested on" in shown.stdout and "(attempt 2," in shown.stdout
