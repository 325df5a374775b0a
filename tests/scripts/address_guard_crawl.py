"""Child process for tests/test_address_guard.py: one crawl against a rebinding name.

    python -m tests.scripts.address_guard_crawl DATA_DIR {guard|no-guard}

Everything on loopback is private, so inside this child only, 127.0.0.2 plays a public
host: the address policy is replaced by "127.0.0.2 is public, nothing else is". The crawl
uses rotwatch's resolver with one change, its lookup: `rebind.test` answers 127.0.0.2 the
first time and 127.0.0.1 every time after (DNS rebinding); any other name is looked up by
the system. The crawl runs without allow_private, with soft-404 probes. "no-guard" removes
AddressGuardMiddleware, to show that the resolver alone keeps every connection public.
Prints the lookups made, as JSON.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import crawler.fetch.resolver
from crawler.fetch.resolver import PublicOnlyResolver, system_lookup

LOOKUPS: Counter[str] = Counter()


def _public_in_this_test(address: str) -> bool:
    return address == "127.0.0.2"


class RebindingResolver(PublicOnlyResolver):
    """rotwatch's resolver whose lookup of rebind.test rebinds after the first answer."""

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> RebindingResolver:
        resolver = super().from_crawler(crawler, reactor)
        resolver.lookup = _rebinding_lookup
        return resolver


async def _rebinding_lookup(host: str) -> Sequence[str]:
    if host != "rebind.test":
        return await system_lookup(host)
    LOOKUPS[host] += 1
    return ["127.0.0.2"] if LOOKUPS[host] == 1 else ["127.0.0.1"]


def main() -> None:
    import crawler.fetch.settings as crawl_settings
    import rotwatch.crawl_process as check
    from archive.store import Selection, Store
    from rotwatch.config import load_config

    # The resolver decides for literal addresses and names alike.
    crawler.fetch.resolver.is_public_address = _public_in_this_test
    ours = crawl_settings.scrapy_settings

    def rebinding_settings(crawl: Any, **kwargs: Any) -> dict[str, Any]:
        settings = ours(crawl, **kwargs)
        middlewares = dict(settings["DOWNLOADER_MIDDLEWARES"])
        if mode == "no-guard":
            del middlewares["crawler.fetch.middlewares.AddressGuardMiddleware"]
        return {**settings, "DOWNLOADER_MIDDLEWARES": middlewares,
                "TWISTED_DNS_RESOLVER": f"{__name__}.RebindingResolver"}

    crawl_settings.scrapy_settings = rebinding_settings
    data, mode = Path(sys.argv[1]), sys.argv[2]
    config = load_config(None, data)
    config = replace(config, crawl=replace(
        config.crawl, delay_per_host=0, allow_private_addresses=False, soft404_probe=True,
        processes=1, snapshots=False, timeout=5, retry_times=0))
    now = datetime.now(UTC)
    with Store(config.store_path) as store:
        run_id = store.start_run("check", "test", 0, now)
    result = check.crawl_shard(config, Selection(every=True), now, run_id)
    print(json.dumps({"verdicts": result.verdicts, "lookups": dict(LOOKUPS)}))


if __name__ == "__main__":
    main()
