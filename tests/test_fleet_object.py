"""A fleet whose shared location is an object store: a real S3 server (moto) on loopback.

moto's S3 server on 127.0.0.12, two real Scrapyd nodes (127.0.0.2-3) with the store's
(test) credentials in their environment, and `rotwatch check` as a child process: the
same verdicts as a shared-directory fleet, WARC files registered and `rotwatch verify`
clean, a node killed mid-run or one that cannot reach the store still ends with every link
checked once, and an attempt whose upload was cut short (no marker, or a file that is not
what the marker lists) is never gathered.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rotwatch.cluster.node_upload import ObjectNodeOutput
from rotwatch.cluster.scrapyd_api import NodeError, ScrapydNode
from rotwatch.cluster.shared_choice import open_shared
from rotwatch.cluster.shared_store import SharedStoreError
from tests import fleet_setup
from tests.conftest import REPO_ROOT, MockServer
from tests.fleet import ScrapydServer, free_port
from tests.fleet_setup import seed, verdicts
from tests.helpers import query, rotwatch

pytest.importorskip("s3fs")

S3_HOST = "127.0.0.12"
BUCKET = "rotwatch-test"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}
CRAWL = {"retry_times": 0, "soft404_probe": False, "concurrency_per_host": 2,
         "concurrency_total": 16}
LINKS = 300
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server; yields its endpoint URL, with the credentials in os.environ."""
    port = free_port(S3_HOST)
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", S3_HOST,
                             "-p", str(port)], stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    endpoint = f"http://{S3_HOST}:{port}"
    with pytest.MonkeyPatch.context() as env:
        for key, value in CREDENTIALS.items():
            env.setenv(key, value)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, "moto_server exited"
                try:
                    with _DIRECT.open(endpoint, timeout=2):
                        break
                except OSError:
                    assert time.monotonic() < deadline, "moto_server never answered"
                    time.sleep(0.2)
            import s3fs

            s3fs.S3FileSystem(endpoint_url=endpoint).mkdir(BUCKET)
            yield endpoint
        finally:
            proc.terminate()
            proc.wait(20)
            log.close()


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(hosts=["127.0.0.2-7"], tls=False, bomb_mb=0) as server:
        yield server


@pytest.fixture(scope="module")
def nodes(s3: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ScrapydServer]]:
    base = tmp_path_factory.mktemp("nodes")
    # Each node's credentials come from its own environment, as on a real machine; its
    # spool is on its own disk.
    servers = [ScrapydServer(base / name, address,
                             env={**CREDENTIALS, "ROTWATCH_SPOOL_DIR": str(base / name / "spool")})
               for name, address in (("a", "127.0.0.2"), ("b", "127.0.0.3"))]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def fleet_config(path: Path, shared: str, urls: list[str], endpoint: str | None) -> Path:
    extra = [f'storage_options = {{ endpoint_url = "{endpoint}" }}'] if endpoint else []
    return fleet_setup.fleet_config(path, CRAWL, shared, urls, extra)


def s3fs_of(endpoint: str) -> Any:
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)


# ---- one check, through a shared directory and through S3 ------------------------------------

@pytest.fixture(scope="module")
def compared(s3: str, mock: MockServer, nodes: list[ScrapydServer],
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("compare")
    kinds = ["200", "404", "301", "500", "410", "403"]
    urls = [mock.url(f"/bench/{kinds[i % len(kinds)]}/{i}", host=i % 6 + 1)
            for i in range(LINKS)]
    urls += [mock.url("/loop/a", host=2), "http://127.0.0.1:1/refused"]
    seed_file = seed(base / "seed.md", urls)
    runs = {"dir": fleet_config(base / "dir.toml", str(base / "shared"),
                                [n.url for n in nodes], None),
            "s3": fleet_config(base / "s3.toml", f"s3://{BUCKET}/run",
                               [n.url for n in nodes], s3)}
    done: dict[str, Any] = {"urls": urls, "endpoint": s3}
    for name, cfg in runs.items():
        data = base / name
        assert rotwatch(data, "ingest", str(seed_file), config=cfg).returncode == 0
        done[name] = rotwatch(data, "check", "--allow-private", config=cfg, timeout=400)
        done[f"{name}_data"] = data
        for host in range(1, 7):
            mock.reset(host)
    done["s3_verify"] = rotwatch(done["s3_data"], "verify", config=runs["s3"])
    return done


def test_s3_fleet_gives_the_shared_directory_fleets_verdicts(compared: dict[str, Any]) -> None:
    assert compared["dir"].returncode == 2, compared["dir"].stderr  # broken links found
    assert compared["s3"].returncode == 2, compared["s3"].stderr
    by_dir, by_s3 = verdicts(compared["dir_data"]), verdicts(compared["s3_data"])
    assert len(by_s3) == len(compared["urls"])
    assert by_s3 == by_dir
    assert {"ok", "broken", "redirected", "server-error", "blocked", "redirect-loop",
            "connection-failed"} <= set(by_s3.values())
    data = compared["s3_data"]
    assert query(data, "SELECT count(*), count(DISTINCT target_id) FROM checks") == [
        (len(compared["urls"]), len(compared["urls"]))]
    shards = query(data, "SELECT status, attempt, targets, checks FROM fleet_shards")
    assert len(shards) == 2 and all(s == ("ingested", 0, s[2], s[2]) for s in shards)


def test_s3_fleets_warcs_are_registered_and_verify_clean(compared: dict[str, Any]) -> None:
    data = compared["s3_data"]
    files = {f for (f,) in query(data, "SELECT DISTINCT warc_file FROM snapshots")}
    assert query(data, "SELECT count(*) FROM snapshots")[0][0] >= LINKS
    assert files and all((data / "warcs" / f).is_file() for f in files)
    assert not list((data / "warcs").glob("*.part"))
    verified = compared["s3_verify"]
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "0 problem(s)" in verified.stderr
    # The bucket keeps each attempt's marker and results, not the WARC files (moved into
    # the archive); the coordinator's staging copies are gone.
    fs = s3fs_of(compared["endpoint"])
    keys = fs.find(f"{BUCKET}/run/runs")
    assert [k for k in keys if k.endswith("/done.json")] and \
        not [k for k in keys if k.endswith(".warc.gz")], keys
    assert not [p for p in (data / "fleet-staging").rglob("*") if p.is_file()]


# ---- torn uploads are not gathered -----------------------------------------------------------

def _published(endpoint: str, shard: str, tmp: Path) -> tuple[Any, dict[str, Any]]:
    """A node's output for attempt 0, published for real (the node's own upload code)."""
    output = ObjectNodeOutput(shard, 0, {"endpoint_url": endpoint})
    try:
        output.attempt_dir.items.write_text('{"x": 1}\n', encoding="utf-8")
        output.attempt_dir.warcs.mkdir()
        (output.attempt_dir.warcs / "w-0.warc.gz").write_bytes(b"not really a warc" * 50)
        output.finish({"count": 1, "reason": "finished", "vantage": "v"})
    finally:
        output.close()
    shared = open_shared(f"s3://{BUCKET}/torn", {"endpoint_url": endpoint}.items(),
                         staging=tmp / "staging")
    done = shared.done(shard, 0)
    assert done is not None and set(done["files"]) == {"items.jl", "warcs/w-0.warc.gz"}
    return shared, done


def test_an_attempt_without_its_marker_is_not_gathered(s3: str, tmp_path: Path) -> None:
    shard = f"s3://{BUCKET}/torn/runs/1/s0"
    shared, _ = _published(s3, shard, tmp_path)
    fs = s3fs_of(s3)
    # The upload cut before its last step: files there, the marker not.
    fs.rm_file(f"{BUCKET}/torn/runs/1/s0/attempt-0/done.json")
    assert shared.done(shard, 0) is None
    assert fs.exists(f"{BUCKET}/torn/runs/1/s0/attempt-0/items.jl")


def test_a_file_unlike_its_marker_is_refused_and_nothing_is_archived(
        s3: str, tmp_path: Path) -> None:
    shard = f"s3://{BUCKET}/torn/runs/2/s0"
    shared, done = _published(s3, shard, tmp_path)
    warcs = tmp_path / "warcs"
    fs = s3fs_of(s3)
    fs.pipe_file(f"{BUCKET}/torn/runs/2/s0/attempt-0/warcs/w-0.warc.gz", b"torn")
    with pytest.raises(SharedStoreError, match="another digest"):
        shared.collect_warcs(shard, 0, done, warcs)
    assert not list(warcs.iterdir())  # no half file, no .part
    fs.rm_file(f"{BUCKET}/torn/runs/2/s0/attempt-0/items.jl")
    with pytest.raises(SharedStoreError, match=r"listed in done\.json but missing"):
        shared.results(shard, 0, done)
    shared.release(shard, 0)
    assert not (tmp_path / "staging" / "runs").exists() or not [
        p for p in (tmp_path / "staging").rglob("*") if p.is_file()]


def test_an_upload_to_an_unreachable_store_publishes_nothing(s3: str, tmp_path: Path) -> None:
    gone = f"http://{S3_HOST}:{free_port(S3_HOST)}"
    output = ObjectNodeOutput(f"s3://{BUCKET}/gone/runs/1/s0", 0, {"endpoint_url": gone})
    try:
        output.attempt_dir.items.write_text('{"x": 1}\n', encoding="utf-8")
        with pytest.raises(SharedStoreError, match=r"cannot upload items\.jl"):
            output.finish({"count": 1, "reason": "finished", "vantage": "v"})
    finally:
        output.close()
    assert not output.spool.exists()
    assert not s3fs_of(s3).exists(f"{BUCKET}/gone")


# ---- the coordinator's one-line errors -------------------------------------------------------

@pytest.mark.parametrize(("shared", "endpoint", "message"), [
    ("s3://no-such-bucket/run", "S3", "no-such-bucket"),
    (f"s3://{BUCKET}/run", "CLOSED", "cannot write"),
    ("nosuchproto://bucket/run", None, "nosuchproto"),
])
def test_a_bad_or_unreachable_store_is_one_line(s3: str, tmp_path: Path, shared: str,
                                               endpoint: str | None, message: str) -> None:
    url = {"S3": s3, "CLOSED": f"http://{S3_HOST}:{free_port(S3_HOST)}", None: None}[endpoint]
    cfg = fleet_config(tmp_path / "c.toml", shared, ["http://127.0.0.2:1"], url)
    seed_file = seed(tmp_path / "s.md", ["https://example.org/cited"])
    assert rotwatch(tmp_path / "data", "ingest", str(seed_file), config=cfg).returncode == 0
    done = rotwatch(tmp_path / "data", "check", config=cfg)
    assert done.returncode == 1, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in done.stdout + done.stderr


# ---- a node that cannot reach the store ------------------------------------------------------

def test_a_node_that_cannot_reach_the_store_has_its_shard_run_elsewhere(
        s3: str, mock: MockServer, nodes: list[ScrapydServer], tmp_path: Path) -> None:
    # Node c reaches the web but not the store: its S3 calls go through a proxy that is not
    # there (botocore honours http_proxy; no_proxy keeps the crawl itself direct).
    web = ",".join(f"127.0.0.{i}" for i in range(2, 8))
    dead_proxy = f"http://{S3_HOST}:{free_port(S3_HOST)}"
    broken = ScrapydServer(tmp_path / "c", "127.0.0.4", env={
        **CREDENTIALS, "http_proxy": dead_proxy, "HTTP_PROXY": dead_proxy,
        "no_proxy": web, "NO_PROXY": web})
    urls = [mock.url(f"/bench/200/u{i}", host=i % 6 + 1) for i in range(60)]
    data = tmp_path / "data"
    # Markers left by another coordinator's jobs (a store started afresh over an old prefix
    # numbers its runs from 1 again): empty and finished, they must not stand for the
    # shard whose job failed here.
    fs = s3fs_of(s3)
    stale = json.dumps({"count": 0, "reason": "finished", "vantage": "x", "job": "old",
                        "files": {}}).encode()
    for run in (1, 2, 3):
        for shard in ("s0", "s1"):
            fs.pipe_file(f"{BUCKET}/unreachable/runs/{run}/{shard}/attempt-0/done.json", stale)
    try:
        broken.start()
        cfg = fleet_config(tmp_path / "u.toml", f"s3://{BUCKET}/unreachable",
                           [nodes[0].url, broken.url], s3)
        assert rotwatch(data, "ingest", str(seed(tmp_path / "s.md", urls)),
                        config=cfg).returncode == 0
        done = rotwatch(data, "check", "--allow-private", config=cfg, timeout=300)
    finally:
        broken.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    # its job failed on the store, not on the web
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "c" / "logs").rglob("*.log"))
    assert "cannot download targets.jl" in logs, logs[-3000:]
    assert query(data, "SELECT count(*), count(DISTINCT target_id) FROM checks") == [(60, 60)]
    shards = query(data, "SELECT shard, node, attempt, status FROM fleet_shards ORDER BY shard")
    assert all(node == nodes[0].url and status == "ingested" for _, node, _, status in shards)
    moved = [shard for shard, _, attempt, _ in shards if attempt == 1]
    assert len(moved) == 1, shards
    # the failed attempt published nothing (the old marker is still all there is); the one
    # that replaced it is complete
    run = query(data, "SELECT max(id) FROM runs WHERE kind = 'check'")[0][0]
    keys = fs.find(f"{BUCKET}/unreachable/runs/{run}/{moved[0]}")
    old_marker = f"{BUCKET}/unreachable/runs/{run}/{moved[0]}/attempt-0/done.json"
    assert [k for k in keys if "/attempt-0/" in k] == [old_marker], keys
    assert json.loads(fs.cat_file(old_marker))["job"] == "old"
    assert [k for k in keys if k.endswith("/attempt-1/done.json")], keys


# ---- a node killed mid-run (last: it leaves node b dead) -------------------------------------

def test_a_node_killed_mid_run_still_ends_with_every_link_once(
        s3: str, mock: MockServer, nodes: list[ScrapydServer], tmp_path: Path) -> None:
    # Slow pages (100 ms each, 2 at a time per host): each shard runs for seconds.
    urls = [mock.url(f"/bench/200/k{i}?delay_ms=100", host=i % 6 + 1) for i in range(120)]
    data = tmp_path / "data"
    cfg = fleet_config(tmp_path / "k.toml", f"s3://{BUCKET}/killed",
                       [n.url for n in nodes], s3)
    assert rotwatch(data, "ingest", str(seed(tmp_path / "s.md", urls)),
                    config=cfg).returncode == 0
    check = subprocess.Popen(
        [sys.executable, "-m", "rotwatch", "--data-dir", str(data), "--config", str(cfg),
         "check", "--allow-private"], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **CREDENTIALS})
    try:
        api = ScrapydNode(nodes[1].url)
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(NodeError):  # "project not found" until the egg is there
                if api.jobs().running:
                    break
            assert time.monotonic() < deadline and check.poll() is None, "b never ran"
            time.sleep(0.1)
        nodes[1].kill()
        out, err = check.communicate(timeout=240)
    finally:
        if check.poll() is None:
            check.kill()
    assert check.returncode == 0, (out, err)
    assert query(data, "SELECT count(*), count(DISTINCT target_id) FROM checks") == [(120, 120)]
    assert query(data, "SELECT verdict, count(*) FROM checks GROUP BY verdict") == [("ok", 120)]
    attempts = query(data, "SELECT attempt, status FROM fleet_shards ORDER BY shard")
    assert (1, "ingested") in attempts and all(s == "ingested" for _, s in attempts)
    files = {f for (f,) in query(data, "SELECT DISTINCT warc_file FROM snapshots")}
    assert all((data / "warcs" / f).is_file() for f in files)
