"""Records shared by the crawl, the verdict and the store: frozen, closed, free of I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    """What one check concluded about one target. Closed: every check ends in exactly one."""

    OK = "ok"
    REDIRECTED = "redirected"
    BROKEN = "broken"
    SERVER_ERROR = "server-error"
    SOFT_404 = "soft-404"
    BLOCKED = "blocked"
    ROBOTS_DISALLOWED = "robots-disallowed"
    TIMEOUT = "timeout"
    DNS_FAILURE = "dns-failure"
    CONNECTION_FAILED = "connection-failed"
    TLS_ERROR = "tls-error"
    REDIRECT_LOOP = "redirect-loop"
    NOT_CHECKABLE = "not-checkable"

    @property
    def is_healthy(self) -> bool:
        return self in (Verdict.OK, Verdict.REDIRECTED)

    @property
    def is_failure(self) -> bool:
        """Counts towards "dead". Blocked, robots and not-checkable say nothing either way."""
        return self not in _NEUTRAL and not self.is_healthy


_NEUTRAL = frozenset({Verdict.BLOCKED, Verdict.ROBOTS_DISALLOWED, Verdict.NOT_CHECKABLE})


class ErrorKind(StrEnum):
    """Why no usable response arrived (classified from the errback's cause chain)."""

    DNS = "dns"
    REFUSED = "refused"
    RESET = "reset"
    TIMEOUT = "timeout"
    TLS = "tls"
    PRIVATE_ADDRESS = "private-address"
    ROBOTS = "robots"
    REDIRECT_LOOP = "redirect-loop"
    TOO_MANY_REDIRECTS = "too-many-redirects"
    UNSUPPORTED = "unsupported"
    INVALID_RESPONSE = "invalid-response"
    OTHER = "other"


@dataclass(frozen=True)
class Hop:
    """One response on the way to the final one (a redirect), or the final one itself."""

    url: str
    status: int
    location: str | None = None


@dataclass(frozen=True)
class Observation:
    """Everything one GET of one target showed us; the verdict is a pure function of this.

    `hops` lists every response in order, the final one last; it is empty when no
    response arrived at all (then `error` says why).
    """

    url: str
    hops: tuple[Hop, ...] = ()
    error: ErrorKind | None = None
    error_message: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str | None = None
    title: str | None = None
    heading: str | None = None
    text: str = ""
    elapsed: float = 0.0
    retries: int = 0
    truncated: bool = False
    length: int = 0
    # The final request carried validators (If-None-Match / If-Modified-Since) of the last
    # good capture: only then is a 304 evidence that the page is there, unchanged.
    conditional: bool = False

    @property
    def status(self) -> int | None:
        return self.hops[-1].status if self.hops else None

    @property
    def final_url(self) -> str:
        return self.hops[-1].url if self.hops else self.url

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True)
class Judgement:
    """A verdict with the human-readable reason for it (shown in reports)."""

    verdict: Verdict
    reason: str
    permanent_redirect: bool | None = None


@dataclass(frozen=True)
class Capture:
    """An archived response a later revisit can point at: its URI, WARC-Date and digest."""

    uri: str
    date: str  # the WARC-Date of that record, as written
    payload_digest: str


@dataclass(frozen=True)
class Validators:
    """What the last good capture of a target offers for a conditional recheck.

    `url` is the URL the validators belong to (the capture's final URL): they are sent
    only on a request for that URL. `capture` is None when snapshots were off.
    """

    url: str
    etag: str | None = None
    last_modified: str | None = None
    capture: Capture | None = None

    def request_headers(self, url: str) -> dict[str, str]:
        """The conditional headers for a request of `url` (none for any other URL)."""
        if url != self.url:
            return {}
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class DueTarget:
    """A target a check run visits: its store id, key, URL to fetch and host."""

    id: int
    key: str
    url: str
    host: str
    next_check_at: str
    validators: Validators | None = None  # of its last good capture, for a conditional GET
    # Full records archived earlier with payloads this target served at its last check
    # (and its baseline): a fleet node, which cannot ask the store, writes a revisit of
    # one of these when the payload comes back. Empty for a local crawl (it asks the store).
    originals: tuple[Capture, ...] = ()
