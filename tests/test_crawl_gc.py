"""The collector's thresholds while a crawl runs: the crawl's own, then the caller's again.

A real check in a child interpreter (one reactor per process), its one crawl run in that
process (`processes = 1`) against the loopback mock server; the verdict callback reads
the thresholds while the crawl is on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rotwatch.crawl_process import CRAWL_GC_THRESHOLDS
from tests.conftest import MockServer
from tests.helpers import REPO_ROOT, rotwatch, write_config

_CHILD = """
import gc, json, sys
from pathlib import Path
from archive.store import Selection
from rotwatch.check import run_check
from rotwatch.config import load_config

gc.set_threshold(900, 11, 12)  # the caller's own, to be given back
config = load_config(Path(sys.argv[1]), Path(sys.argv[2]))
seen = set()
summary = run_check(config, Selection(every=True),
                    on_result=lambda verdict: seen.add(gc.get_threshold()))
print(json.dumps({"during": sorted(seen), "after": gc.get_threshold(),
                  "checked": summary.checked}))
"""


def test_a_crawl_runs_at_its_own_gc_thresholds_and_gives_the_callers_back(
        mockserver: MockServer, tmp_path: Path) -> None:
    seed = tmp_path / "seed.md"
    seed.write_text("".join(f"- [page {i}]({mockserver.url(f'/ok?{i}', host=2 + i % 2)})\n"
                            for i in range(6)), encoding="utf-8")
    data = tmp_path / "data"
    config = write_config(tmp_path / "c.toml", processes=1, allow_private_addresses=True)
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0
    done = subprocess.run([sys.executable, "-c", _CHILD, str(config), str(data)],
                          capture_output=True, text=True, timeout=180, cwd=REPO_ROOT,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["checked"] == 6
    assert report["during"] == [list(CRAWL_GC_THRESHOLDS)]
    assert report["after"] == [900, 11, 12]
