"""What the crawl never does, whatever a server answers: fetch a non-HTTP URL, spend more
than a target's time budget; and what it sees that path probing cannot: an item page
addressed by its query that is gone but answers 200.

Each case runs a real `rotwatch check` child process against the loopback mock server.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from tests.conftest import MockServer
from tests.helpers import latest_checks, query, rotwatch, write_config


def _check(tmp_path: Path, urls: dict[str, str], **crawl: object) -> tuple[Path, float]:
    seed = tmp_path / "seed.md"
    seed.write_text("\n".join(f"- [{name}]({url})" for name, url in urls.items()) + "\n",
                    encoding="utf-8")
    data, config = tmp_path / "data", write_config(tmp_path / "c.toml", **crawl)
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0
    started = time.monotonic()
    done = rotwatch(data, "check", "--allow-private", config=config)
    elapsed = time.monotonic() - started
    assert done.returncode in (0, 2), done.stderr
    assert "Traceback" not in done.stderr
    return data, elapsed


def _every_byte_stored(data: Path) -> bytes:
    """The store and every WARC record's payload, decompressed, as one haystack."""
    stored = b"".join(path.read_bytes() for path in data.glob("rotwatch.db*"))
    for warc in sorted((data / "warcs").glob("*.warc.gz*")):
        with warc.open("rb") as stream:
            for record in ArchiveIterator(stream):
                stored += record.content_stream().read()
    return stored


def test_redirects_to_local_files_and_other_schemes_are_never_followed(
        mockserver: MockServer, tmp_path: Path) -> None:
    marker = f"SECRET-{tmp_path.name}-3f9c"
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{marker}\n", encoding="utf-8")
    urls = {
        "file": mockserver.url(f"/redirect-to?url=file://{secret}"),
        # base64: the Location header (kept in the hops) must not itself hold the marker
        "data": mockserver.url("/redirect-to?url=data:text/plain;base64,"
                               + base64.b64encode(marker.encode()).decode()),
        "ftp": mockserver.url("/redirect-to?url=ftp://127.0.0.1:1/pub/x"),
        "ok": mockserver.url("/ok", host=2),
    }
    data, _ = _check(tmp_path, urls)
    checks = latest_checks(data)
    for name in ("file", "data", "ftp"):
        row = checks[urls[name]]
        assert row["verdict"] == "not-checkable", (name, row)
        assert "only http and https" in row["reason"], row["reason"]
        assert row["status"] == 302  # the redirect itself is on record
    assert checks[urls["ok"]]["verdict"] == "ok"
    assert marker.encode() not in _every_byte_stored(data)


def test_a_target_never_spends_more_than_its_budget(mockserver: MockServer,
                                                   tmp_path: Path) -> None:
    urls = {
        # Asks for a 1,000-second pause before each retry: waiting even the capped 30 s
        # would blow the 3 s budget, so the 429 is the finding.
        "storm": mockserver.url("/retry-after/429?key=storm&times=9&after=1000"),
        # A quick redirect, then a page that takes 8 s: over budget on the second hop.
        "slow_hop": mockserver.url("/redirect-to?url=/slow%3Fdelay%3D8", host=2),
        "ok": mockserver.url("/ok", host=3),
    }
    data, elapsed = _check(tmp_path, urls, target_budget=3, timeout=20, retry_after_cap=30,
                           retry_times=2)
    checks = latest_checks(data)
    assert checks[urls["storm"]]["verdict"] == "blocked"
    slow = checks[urls["slow_hop"]]
    assert slow["verdict"] == "timeout", slow
    assert '"status": 302' in slow["hops"] or "302" in str(slow["hops"])  # what was seen
    assert checks[urls["ok"]]["verdict"] == "ok"
    # Process start and ingest excluded; without the budget this takes 30 s or more.
    assert elapsed < 20, elapsed


def test_gone_video_addressed_by_query_is_a_soft_404(mockserver: MockServer,
                                                     tmp_path: Path) -> None:
    urls = {"gone": mockserver.url("/watch?v=gone0001", host=2),
            "live": mockserver.url("/watch?v=live0001", host=2)}
    data, _ = _check(tmp_path, urls)
    checks = latest_checks(data)
    assert checks[urls["gone"]]["verdict"] == "soft-404", checks[urls["gone"]]
    assert checks[urls["live"]]["verdict"] == "ok", checks[urls["live"]]
    probes = [p for p in mockserver.paths(host=2) if p.startswith("/watch?v=zz")]
    assert len(probes) == 1  # one probe for both: they share the probe key
    assert query(data, "SELECT count(*) FROM checks")[0][0] == 2


def test_a_retry_goes_ahead_of_targets_not_yet_started(mockserver: MockServer,
                                                       tmp_path: Path) -> None:
    # One request at a time, 24 slow targets waiting in the scheduler beside a flaky one:
    # a retry queued behind them (Scrapy's default priority) would wait ~7 s, past the 4 s
    # budget, and the flaky target would be judged a timeout instead of the page it is.
    key = f"retry-first-{tmp_path.name}"
    urls = {"flaky": mockserver.url(f"/flaky?key={key}&times=1", host=2)}
    urls |= {f"slow{i}": mockserver.url(f"/slow?delay=0.3&q={key}{i}", host=2)
             for i in range(24)}
    data, _ = _check(tmp_path, urls, concurrency_per_host=1, concurrency_total=1,
                     processes=1, target_budget=4, retry_backoff=0.1, soft404_probe=False)
    checks = latest_checks(data)
    assert checks[urls["flaky"]]["verdict"] == "ok", checks[urls["flaky"]]["reason"]
    assert checks[urls["flaky"]]["retries"] == 1
