"""Child process for tests/test_robots_race.py: one crawl over a slow robots.txt host.

    python -m tests.scripts.robots_race DATA_DIR {rotwatch|stock}

"stock" swaps rotwatch's robots middleware for Scrapy's own, to show that the test
scenario really triggers the race the fix is for. Prints the verdict counts as JSON.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def main() -> None:
    import crawler.fetch.settings as crawl_settings
    import rotwatch.crawl_process as check
    from archive.store import Selection, Store
    from rotwatch.config import load_config

    data, variant = Path(sys.argv[1]), sys.argv[2]
    config = load_config(None, data)
    config = replace(config, crawl=replace(
        config.crawl, delay_per_host=0, allow_private_addresses=True, soft404_probe=False,
        processes=1, snapshots=False))
    if variant == "stock":
        ours = crawl_settings.scrapy_settings

        def stock_settings(crawl: Any, **kwargs: Any) -> dict[str, Any]:
            settings = ours(crawl, **kwargs)
            middlewares = dict(settings["DOWNLOADER_MIDDLEWARES"])
            del middlewares["crawler.fetch.middlewares.CompleteRobotsTxtMiddleware"]
            middlewares["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] = 100
            return {**settings, "DOWNLOADER_MIDDLEWARES": middlewares}

        crawl_settings.scrapy_settings = stock_settings
    now = datetime.now(UTC)
    with Store(config.store_path) as store:
        run_id = store.start_run("check", "test", 0, now)
    result = check.crawl_shard(config, Selection(every=True), now, run_id)
    print(json.dumps(result.verdicts))


if __name__ == "__main__":
    main()
