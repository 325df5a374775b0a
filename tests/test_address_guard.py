"""The address guard: no check reaches a non-public address, however the name answers.

Unit level: `is_public_address` on every IPv6 form that embeds an IPv4 address, and the
crawl's resolver (`crawler.fetch.resolver`) given a scripted lookup that rebinds (public first,
private afterwards). End to end: real `rotwatch check` child processes against a loopback
mock server, whose request log must show that nothing refused was ever sent.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import CannotResolveHostError
from twisted.internet.address import IPv4Address, IPv6Address

from core.records import ErrorKind
from core.urls import is_public_address
from crawler.fetch.errors import PrivateAddressRefused, classify
from crawler.fetch.middlewares import AddressGuardMiddleware
from crawler.fetch.resolver import PublicOnlyResolver
from tests.conftest import REPO_ROOT, MockServer
from tests.helpers import latest_checks, query, rotwatch, write_config

# --------------------------------------------------------------------------------------------
# is_public_address
# --------------------------------------------------------------------------------------------

PUBLIC_V4 = "8.8.8.8"


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True),
    ("2606:4700::1", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("169.254.169.254", False),
    ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False), ("240.0.0.1", False),
    ("::1", False), ("::", False), ("fe80::1", False), ("fe80::1%lo", False),
    ("fc00::1", False), ("2001:db8::1", False), ("not an address", False), ("", False),
    # Multicast with a global scope: ipaddress calls it global, nobody serves pages there.
    ("ff0e::1", False), ("ff02::1", False),
    # Site-local (deprecated, RFC 3879): ipaddress 3.11 calls it global.
    ("fec0::1", False),
    # IPv4-mapped ::ffff:a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d: the inner address.
    ("::ffff:8.8.8.8", True), ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),
    ("::ffff:0:8.8.8.8", True), ("::ffff:0:127.0.0.1", False),
    # NAT64, well-known prefix (RFC 6052) and local-use prefix (RFC 8215): the inner one.
    ("64:ff9b::8.8.8.8", True), ("64:ff9b::127.0.0.1", False),
    ("64:ff9b::10.0.0.1", False), ("64:ff9b::169.254.169.254", False),
    ("64:ff9b::224.0.0.1", False),
    ("64:ff9b:1::8.8.8.8", True), ("64:ff9b:1::10.0.0.1", False),
    ("64:ff9b:1:abcd::127.0.0.1", False),
    # 6to4: the IPv4 address in bits 16-47 is the tunnel end point.
    ("2002:808:808::1", True), ("2002:7f00:1::1", False), ("2002:a00:1::1", False),
    ("2002:a9fe:a9fe::1", False),
    # IPv4-compatible ::a.b.c.d: deprecated since 2006 (RFC 4291), never a real answer.
    ("::8.8.8.8", False), ("::127.0.0.1", False), ("::10.0.0.1", False),
    # Teredo: both the server and the (de-obfuscated) client address must be public.
    ("2001:0:808:808:0:ffff:f7f7:f7f7", True),      # server 8.8.8.8, client 8.8.8.8
    ("2001:0:808:808:0:ffff:80ff:fffe", False),     # client 127.0.0.1
    ("2001:0:a00:1:0:ffff:f7f7:f7f7", False),       # server 10.0.0.1
])
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


# --------------------------------------------------------------------------------------------
# The resolver, with a scripted lookup (no reactor needed: it runs on asyncio)
# --------------------------------------------------------------------------------------------


class Script:
    """A lookup that answers from a list, one entry per call (the last one repeats)."""

    def __init__(self, *answers: Sequence[str] | BaseException, delay: float = 0.0) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []
        self.delay = delay

    async def __call__(self, host: str) -> Sequence[str]:
        self.calls.append(host)
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.answers[min(len(self.calls), len(self.answers)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        return answer


class Receiver:
    """Collects what an IHostnameResolver hands to Twisted's HostnameEndpoint
    (an IResolutionReceiver, with Twisted's method names)."""

    def __init__(self) -> None:
        self.began = False
        self.addresses: list[Any] = []
        self.done = asyncio.get_running_loop().create_future()

    def resolutionBegan(self, resolution: Any) -> None:
        self.began = True

    def addressResolved(self, address: Any) -> None:
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        self.done.set_result(True)


def resolver(lookup: Script, **kwargs: Any) -> PublicOnlyResolver:
    return PublicOnlyResolver(None, lookup=lookup, **kwargs)


async def connect_addresses(res: PublicOnlyResolver, host: str, port: int = 80) -> list[Any]:
    """What the connection would be made to: the resolver as Twisted calls it."""
    receiver = Receiver()
    res.resolveHostName(receiver, host, port)
    await asyncio.wait_for(receiver.done, 5)
    assert receiver.began
    return receiver.addresses


def test_rebinding_name_connects_to_the_checked_address() -> None:
    async def scenario() -> None:
        lookup = Script([PUBLIC_V4], ["127.0.0.1"])
        res = resolver(lookup)
        assert await res.check("rebind.example") == (PUBLIC_V4,)
        # Twisted resolves again to connect: it gets the answer that was checked, not the
        # rebound one, and the name is not looked up a second time.
        addresses = await connect_addresses(res, "rebind.example", 8080)
        assert addresses == [IPv4Address("TCP", PUBLIC_V4, 8080)]
        assert lookup.calls == ["rebind.example"]

    asyncio.run(scenario())


def test_rebinding_after_eviction_is_refused_at_connect() -> None:
    async def scenario() -> None:
        lookup = Script([PUBLIC_V4], [PUBLIC_V4], ["127.0.0.1"])
        res = resolver(lookup, cache_size=1)
        assert await res.check("rebind.example") == (PUBLIC_V4,)
        await res.check("other.example")  # evicts the pinned answer
        assert await connect_addresses(res, "rebind.example") == []  # nothing to connect to
        with pytest.raises(PrivateAddressRefused, match=r"127\.0\.0\.1"):
            await res.check("rebind.example")
        assert res.refusal("rebind.example") is not None

    asyncio.run(scenario())


def test_connect_without_prior_check_refuses_private_answers() -> None:
    async def scenario() -> None:
        # Any non-public address in the answer refuses the whole name: a client could be
        # sent to any of them.
        res = resolver(Script([PUBLIC_V4, "10.0.0.7"]))
        assert await connect_addresses(res, "mixed.example") == []
        refusal = res.refusal("mixed.example")
        assert isinstance(refusal, PrivateAddressRefused)
        assert classify(refusal)[0] is ErrorKind.PRIVATE_ADDRESS

    asyncio.run(scenario())


def test_literal_addresses_are_checked_without_lookup() -> None:
    async def scenario() -> None:
        lookup = Script([PUBLIC_V4])
        res = resolver(lookup)
        with pytest.raises(PrivateAddressRefused):
            await res.check("127.0.0.1")
        assert await connect_addresses(res, "::1") == []
        assert await connect_addresses(res, "64:ff9b::a00:1") == []
        assert await connect_addresses(res, PUBLIC_V4, 443) == [
            IPv4Address("TCP", PUBLIC_V4, 443)]
        assert lookup.calls == []

    asyncio.run(scenario())


def test_allow_private_passes_every_answer() -> None:
    async def scenario() -> None:
        res = resolver(Script(["127.0.0.1", "::1"]), allow_private=True)
        assert await res.check("localhost") == ("127.0.0.1", "::1")
        assert await connect_addresses(res, "localhost", 81) == [
            IPv4Address("TCP", "127.0.0.1", 81), IPv6Address("TCP", "::1", 81)]

    asyncio.run(scenario())


def test_a_trusted_host_passes_and_nothing_else_does() -> None:
    """A confirming proxy on a private network (`[cluster] confirm_proxy`) is trusted by
    name or address; other private answers are still refused."""
    async def scenario() -> None:
        res = resolver(Script(["10.0.0.8"]), trusted=frozenset({"Proxy.LAN", "10.0.0.9"}))
        assert await res.check("proxy.lan") == ("10.0.0.8",)
        assert await connect_addresses(res, "10.0.0.9", 3128) == [
            IPv4Address("TCP", "10.0.0.9", 3128)]
        with pytest.raises(PrivateAddressRefused):
            await res.check("10.0.0.10")
        with pytest.raises(PrivateAddressRefused):
            await res.check("target.example")  # answers 10.0.0.8 too, but is not trusted

    asyncio.run(scenario())


def test_concurrent_checks_share_one_lookup() -> None:
    async def scenario() -> None:
        lookup = Script([PUBLIC_V4], ["127.0.0.1"], delay=0.05)
        res = resolver(lookup)
        answers = await asyncio.gather(*(res.check("busy.example") for _ in range(5)))
        assert set(answers) == {(PUBLIC_V4,)}
        assert lookup.calls == ["busy.example"]

    asyncio.run(scenario())


def test_transient_failure_is_retried_and_missing_name_is_a_dns_failure() -> None:
    async def scenario() -> None:
        again = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        flaky = Script(again, again, [PUBLIC_V4])
        assert await resolver(flaky).check("flaky.example") == (PUBLIC_V4,)
        assert len(flaky.calls) == 3
        missing = Script(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
        with pytest.raises(CannotResolveHostError) as caught:
            await resolver(missing).check("missing.example")
        assert classify(caught.value)[0] is ErrorKind.DNS
        assert len(missing.calls) == 1  # a name that does not exist is not asked again

    asyncio.run(scenario())


def test_lookup_timeout_is_a_dns_failure_within_budget() -> None:
    async def scenario() -> None:
        res = resolver(Script([PUBLIC_V4], delay=30), timeout=0.2)
        started = time.monotonic()
        with pytest.raises(CannotResolveHostError, match="timed out"):
            await res.check("slow.example")
        assert time.monotonic() - started < 2.0  # budget: 10x the timeout
        assert await connect_addresses(res, "slow.example") == []

    asyncio.run(scenario())


def test_guard_refuses_before_download_and_names_connect_time_refusals() -> None:
    async def scenario() -> None:
        res = resolver(Script(["10.0.0.1"]))
        guard = AddressGuardMiddleware(allow_private=False, resolver=res)
        for url in ("http://127.0.0.1/x", "http://[::ffff:127.0.0.1]/x", "http://evil.example/"):
            with pytest.raises(PrivateAddressRefused):
                await guard.process_request(Request(url))
        # A refusal made when Twisted connected reaches the downloader as "no results".
        late = resolver(Script(["10.0.0.1"]))
        guard = AddressGuardMiddleware(allow_private=False, resolver=late)
        assert await connect_addresses(late, "late.example") == []
        lost = CannotResolveHostError("no results for hostname lookup: late.example")
        with pytest.raises(PrivateAddressRefused) as caught:
            guard.process_exception(Request("http://late.example/a"), lost)
        assert caught.value.__cause__ is lost
        assert classify(caught.value)[0] is ErrorKind.PRIVATE_ADDRESS
        # A name that really does not resolve stays a DNS failure.
        guard.process_exception(Request("http://other.example/"), lost)  # does not raise
        allowed = AddressGuardMiddleware(allow_private=True, resolver=late)
        await allowed.process_request(Request("http://127.0.0.1/x"))  # does not raise
        allowed.process_exception(Request("http://late.example/a"), lost)  # does not raise

    asyncio.run(scenario())


# --------------------------------------------------------------------------------------------
# End to end: real crawls against a loopback server
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guard_server() -> Any:
    # Its own server: the request log must show no request at all, robots.txt included.
    with MockServer(hosts=["127.0.0.1"], tls=False, bomb_mb=0) as server:
        yield server


def test_name_resolving_to_loopback_is_refused_unless_allowed(
        guard_server: MockServer, tmp_path: Path) -> None:
    ms = guard_server
    ms.clear_log()
    by_name = ms.url("/page/guard-by-name").replace("127.0.0.1", "localhost")
    literal = ms.url("/page/guard-literal")
    seed = tmp_path / "seed.md"
    seed.write_text(f"- [name]({by_name})\n- [literal]({literal})\n", encoding="utf-8")
    data = tmp_path / "data"
    config = write_config(tmp_path / "rotwatch.toml", soft404_probe=False)
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0

    refused = rotwatch(data, "check", "--all", config=config)
    assert "Traceback" not in refused.stderr, refused.stderr
    # Refused by the operator's settings: not a check of the link, so nothing is stored
    # and the links stay new and due (#12); the run says how many and why.
    assert latest_checks(data) == {}, (refused.stdout, refused.stderr)
    assert query(data, "SELECT DISTINCT state FROM targets") == [("new",)]
    assert "2 link(s) not checked:" in refused.stdout and "--allow-private" in refused.stdout
    assert ms.paths() == []  # not even robots.txt was asked for

    allowed = rotwatch(data, "check", "--all", "--allow-private", config=config)
    assert "Traceback" not in allowed.stderr, allowed.stderr
    checks = latest_checks(data)
    assert checks[by_name]["verdict"] == "ok", checks[by_name]
    assert checks[literal]["verdict"] == "ok", checks[literal]
    assert {"/page/guard-by-name", "/page/guard-literal"} <= set(ms.paths())


def _shared_free_port(addresses: Sequence[str]) -> int:
    """A port free on every address (the rebinding name must answer with either)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind((addresses[0], 0))
            port = int(first.getsockname()[1])
            others = [socket.socket() for _ in addresses[1:]]
            try:
                for sock, address in zip(others, addresses[1:], strict=True):
                    sock.bind((address, port))
                return port
            except OSError:
                continue
            finally:
                for sock in others:
                    sock.close()
    raise RuntimeError("no port free on every address")


@pytest.mark.parametrize("mode", ["guard", "no-guard"])
def test_rebinding_and_redirect_to_private_name_in_a_crawl(tmp_path: Path, mode: str) -> None:
    """tests/scripts/address_guard_crawl.py: 127.0.0.2 plays a public host (only in that
    child), `rebind.test` answers 127.0.0.2 first and 127.0.0.1 afterwards. "no-guard"
    crawls without AddressGuardMiddleware: the resolver alone must keep 127.0.0.1 unvisited.
    """
    port = _shared_free_port(["127.0.0.1", "127.0.0.2"])
    public = f"http://127.0.0.2:{port}"
    targets = [f"http://rebind.test:{port}/page/rebind-{i}" for i in range(3)]
    targets.append(f"{public}/redirect-to?url=http://localhost:{port}/page/after-redirect")
    seed = tmp_path / "seed.md"
    seed.write_text("".join(f"- [x]({url})\n" for url in targets), encoding="utf-8")
    data = tmp_path / "data"
    assert rotwatch(data, "ingest", str(seed)).returncode == 0
    with MockServer(hosts=["127.0.0.1", "127.0.0.2"], port=port, tls=False,
                    bomb_mb=0) as ms:
        done = subprocess.run(
            [sys.executable, "-m", "tests.scripts.address_guard_crawl", str(data), mode],
            capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout.strip().splitlines()[-1])
        private_log = ms.paths("127.0.0.1")
        public_log = ms.paths("127.0.0.2")
    assert private_log == []  # the private listener never saw a request
    verdicts = {url: (check["verdict"], check["error_kind"])
                for url, check in latest_checks(data).items()}
    for url in targets[:3]:  # every request went to the address that was checked
        assert verdicts[url] == ("ok", None), verdicts
    assert result["lookups"] == {"rebind.test": 1}
    # robots.txt and the soft-404 probes of rebind.test went there too.
    assert "/robots.txt" in public_log
    assert {f"/page/rebind-{i}" for i in range(3)} < {p for p in public_log if "/page/" in p}
    refused = verdicts[targets[3]]
    if mode == "guard":
        assert refused == ("not-checkable", "private-address"), verdicts
    else:  # refused when connecting: Twisted can only call that "no results"
        assert refused == ("dns-failure", "dns"), verdicts
