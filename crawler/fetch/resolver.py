"""The crawl's name resolver: connections go only to public addresses, the ones checked.

Installed as Scrapy's `TWISTED_DNS_RESOLVER`, it becomes the reactor's name resolver, so
every connection the crawl opens (checks, redirect hops, robots.txt, soft-404 probes) is
made to an address it handed out. Checking a name with a lookup of one's own and then
letting Twisted look it up again to connect is open to DNS rebinding: a name can answer
public first and 127.0.0.1 a second later. Here there is one lookup per name per run:

* an answer with any non-public address refuses the name (any of them could be the one
  connected to) unless `allow_private_addresses` is set;
* the answer is pinned for the run (bounded LRU): the connection gets exactly the
  addresses that were checked, however the name answers later;
* concurrent requests for one name share one lookup; a lookup that fails is not kept, so a
  retry asks again. A temporary failure (EAI_AGAIN) is retried at once with tenacity.

Twisted's IHostnameResolver has no way to say *why* a name gave no address, so a refusal
at connect time reaches Twisted as "no results" (a DNS failure); `refusal(host)` lets the
address guard name it. The guard asks `check(host)` before each download, which is what
normally refuses (as PrivateAddressRefused) and pins the answer the connection then uses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

from scrapy.exceptions import CannotResolveHostError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IHostResolution
from zope.interface import implementer

from core.urls import is_public_address
from crawler.fetch.errors import PrivateAddressRefused

Lookup = Callable[[str], Awaitable[Sequence[str]]]


async def system_lookup(host: str) -> Sequence[str]:
    """The addresses the system resolver gives for `host` (getaddrinfo, off the loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [_address_text(info[4]) for info in infos]


def _address_text(sockaddr: tuple[Any, ...]) -> str:
    # An IPv6 scope id is needed to reach a link-local address (only ever connected to
    # with allow_private); Twisted's connectTCP understands the "%scope" suffix.
    if len(sockaddr) >= 4 and sockaddr[3]:
        return f"{sockaddr[0]}%{sockaddr[3]}"
    return str(sockaddr[0])


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_AGAIN


def _literal(host: str) -> str | None:
    """`host` itself when it is an IP address (such hosts are never looked up)."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return None
    return bare


@dataclass(frozen=True)
class Answer:
    """What one name resolved to for this run: addresses, or why there are none to use."""

    addresses: tuple[str, ...] = ()
    refused: str | None = None  # set when a non-public address was in the answer
    failed: str | None = None  # set when the lookup failed (not kept: a retry asks again)

    @property
    def usable(self) -> tuple[str, ...]:
        return () if self.refused or self.failed else self.addresses


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name
        self.task: asyncio.Future[Answer] | None = None

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()  # only this caller's wait: the shared lookup goes on


@implementer(IHostnameResolver)
class PublicOnlyResolver:
    """Resolves names for the crawl, refusing non-public answers and pinning the rest."""

    def __init__(self, reactor: Any, *, allow_private: bool = False, timeout: float = 30.0,
                 cache_size: int = 10_000, lookup: Lookup | None = None,
                 trusted: frozenset[str] = frozenset()) -> None:
        self.reactor = reactor
        self.allow_private = allow_private
        # Hosts the operator configured (a confirming proxy, often on a private network):
        # never refused for their address. Targets are never put here.
        self.trusted = frozenset(_literal(h) or h.lower() for h in trusted)
        self.timeout = timeout
        self.cache_size = max(1, cache_size)
        self.lookup: Lookup = lookup or system_lookup
        self._answers: OrderedDict[str, asyncio.Future[Answer]] = OrderedDict()

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> Self:
        # Scrapy passes its CrawlerProcess here, not a Crawler: only .settings is used.
        settings = crawler.settings
        return cls(reactor, allow_private=settings.getbool("ROTWATCH_ALLOW_PRIVATE"),
                   timeout=settings.getfloat("DNS_TIMEOUT"),
                   cache_size=settings.getint("DNSCACHE_SIZE"),
                   trusted=frozenset(settings.getlist("ROTWATCH_TRUSTED_HOSTS")))

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    async def check(self, host: str) -> tuple[str, ...]:
        """The addresses a connection to `host` will use; raises if there are none.

        PrivateAddressRefused when the answer holds a non-public address (and private ones
        are not allowed), CannotResolveHostError when the lookup failed.
        """
        answer = await self._answer(host)
        if answer.refused:
            raise PrivateAddressRefused(answer.refused)
        if answer.failed:
            raise CannotResolveHostError(answer.failed)
        return answer.addresses

    def refusal(self, host: str) -> PrivateAddressRefused | None:
        """The refusal of `host` in this run, if its answer was refused."""
        pending = self._answers.get(_literal(host) or host)
        if pending is None or not pending.done() or pending.cancelled():
            return None
        refused = pending.result().refused
        return PrivateAddressRefused(refused) if refused else None

    # IHostnameResolver: what Twisted's HostnameEndpoint calls to connect.
    # The receiver is an IResolutionReceiver; zope interfaces do not type-check as classes.
    def resolveHostName(self, resolutionReceiver: Any, hostName: str, portNumber: int = 0,
                        addressTypes: Sequence[type] | None = None,
                        transportSemantics: str = "TCP") -> _Resolution:
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        task = asyncio.ensure_future(self._answer(hostName))
        resolution.task = task

        def deliver(done: asyncio.Future[Answer]) -> None:
            answer = Answer() if done.cancelled() or done.exception() else done.result()
            for address in answer.usable:
                twisted_address = _twisted_address(address, portNumber)
                if addressTypes is None or isinstance(twisted_address, tuple(addressTypes)):
                    resolutionReceiver.addressResolved(twisted_address)
            # No address at all: Twisted fails the connection with DNSLookupError.
            resolutionReceiver.resolutionComplete()

        task.add_done_callback(deliver)
        return resolution

    async def _answer(self, host: str) -> Answer:
        key = _literal(host) or host
        pending = self._answers.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._resolve(key))
            pending.add_done_callback(lambda done: self._forget_failure(key, done))
            self._answers[key] = pending
            while len(self._answers) > self.cache_size:
                self._answers.popitem(last=False)
        else:
            self._answers.move_to_end(key)
        # Shielded: a caller that gives up (a download timeout) must not cancel the
        # lookup other requests for the same name are waiting on.
        return await asyncio.shield(pending)

    def _forget_failure(self, key: str, done: asyncio.Future[Answer]) -> None:
        failed = done.cancelled() or done.exception() is not None or done.result().failed
        if failed and self._answers.get(key) is done:
            del self._answers[key]

    async def _resolve(self, host: str) -> Answer:
        literal = _literal(host)
        if literal is not None:
            addresses: tuple[str, ...] = (literal,)
        else:
            try:
                addresses = await asyncio.wait_for(self._lookup(host), self.timeout)
            except TimeoutError:
                return Answer(failed=f"DNS lookup of {host} timed out after {self.timeout:g} s")
            except (OSError, UnicodeError, ValueError) as exc:
                return Answer(failed=f"cannot resolve {host}: {exc}")
            if not addresses:
                return Answer(failed=f"cannot resolve {host}: no address")
        if not self.allow_private and (literal or host.lower()) not in self.trusted:
            refused = [address for address in addresses if not is_public_address(address)]
            if refused:
                what = "is" if literal is not None else "resolves to"
                return Answer(addresses, refused=(
                    f"{host} {what} non-public address {refused[0]}; "
                    "use --allow-private to check it"))
        return Answer(addresses)

    async def _lookup(self, host: str) -> tuple[str, ...]:
        async for attempt in AsyncRetrying(
                retry=retry_if_exception(_transient), stop=stop_after_attempt(3),
                wait=wait_exponential(0.2, max=2), reraise=True):
            with attempt:
                found = await self.lookup(host)
        return tuple(dict.fromkeys(found))


def _twisted_address(address: str, port: int) -> IPv4Address | IPv6Address:
    if ipaddress.ip_address(address.split("%", 1)[0]).version == 4:
        return IPv4Address("TCP", address, port)
    return IPv6Address("TCP", address, port)


def installed_resolver() -> PublicOnlyResolver | None:
    """The reactor's name resolver when it is this one (it is in the crawl)."""
    from scrapy.utils.reactor import is_reactor_installed

    if not is_reactor_installed():
        return None  # importing twisted.internet.reactor now would install the wrong one
    from twisted.internet import reactor

    resolver = getattr(reactor, "nameResolver", None)
    return resolver if isinstance(resolver, PublicOnlyResolver) else None
