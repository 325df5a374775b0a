"""Classify why a download produced no response, by walking the exception's cause chain.

Since Scrapy 2.15 the errback receives Scrapy's own exception types
(DownloadTimeoutError, CannotResolveHostError, …) wrapping the Twisted or OpenSSL error
that really happened. A TLS failure, for instance, arrives as DownloadFailedError whose
cause is a ResponseNeverReceived holding an OpenSSL error. So look at every link of the
chain — __cause__, __context__, Twisted Failure.value and ResponseNeverReceived.reasons —
and take the most specific kind found.
"""

from __future__ import annotations

from collections.abc import Iterator

from core.records import ErrorKind


class PrivateAddressRefused(Exception):
    """The target resolves to a loopback, private, link-local or reserved address."""


class RobotsDisallowed(Exception):
    """robots.txt forbids this URL to our user agent."""


class RedirectLoop(Exception):
    """A redirect chain came back to a URL it had already visited."""


class TooManyRedirects(Exception):
    """A redirect chain longer than the configured limit."""


# Checked in this order: the first kind that any link of the chain matches wins,
# so specific causes (TLS, DNS) beat the generic wrappers around them.
_BY_TYPE_NAME: tuple[tuple[ErrorKind, tuple[str, ...]], ...] = (
    (ErrorKind.PRIVATE_ADDRESS, ("PrivateAddressRefused",)),
    (ErrorKind.ROBOTS, ("RobotsDisallowed",)),
    (ErrorKind.REDIRECT_LOOP, ("RedirectLoop",)),
    (ErrorKind.TOO_MANY_REDIRECTS, ("TooManyRedirects",)),
    (ErrorKind.INVALID_RESPONSE, ("ResponseHeadersTooLarge", "ParseError")),
    (ErrorKind.TLS, ("SSLError", "Error", "CertificateError", "VerificationError",
                     "SSLCertVerificationError", "TLSError")),
    (ErrorKind.DNS, ("CannotResolveHostError", "DNSLookupError", "gaierror")),
    (ErrorKind.TIMEOUT, ("TargetDeadlineExceeded", "DownloadTimeoutError", "TimeoutError",
                         "TCPTimedOutError", "UserTimeoutError")),
    (ErrorKind.REFUSED, ("DownloadConnectionRefusedError", "ConnectionRefusedError",
                         "NoRouteError")),
    (ErrorKind.RESET, ("ConnectionLost", "ConnectionDone", "ConnectionResetError",
                       "ResponseDataLossError", "ConnectionAborted", "PotentialDataLoss",
                       "ConnectionClosed")),
    (ErrorKind.UNSUPPORTED, ("UnsupportedURLSchemeError", "NotSupported")),
)
_TLS_MODULES = ("OpenSSL", "ssl", "service_identity")


def iter_chain(exc: BaseException, limit: int = 32) -> Iterator[BaseException]:
    """Every exception reachable from `exc` (bounded, cycle-safe), outermost first."""
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack and len(seen) < limit:
        item = stack.pop(0)
        value = getattr(item, "value", None) if not isinstance(item, BaseException) else item
        if not isinstance(value, BaseException) or id(value) in seen:
            continue
        seen.add(id(value))
        yield value
        # A Twisted Failure (an exception itself since Twisted 25) wraps the real one.
        wrapped = getattr(value, "value", None)
        if isinstance(wrapped, BaseException):
            stack.append(wrapped)
        for reason in getattr(value, "reasons", None) or ():
            stack.append(reason)
        stack.extend(x for x in (value.__cause__, value.__context__) if x is not None)
        stack.extend(a for a in value.args if isinstance(a, BaseException))


def classify(exc: BaseException) -> tuple[ErrorKind, str]:
    """The kind of failure and a one-line message naming the innermost cause."""
    chain = list(iter_chain(exc))
    for kind, names in _BY_TYPE_NAME:
        for link in chain:
            name = type(link).__name__
            if name not in names:
                continue
            if kind is ErrorKind.TLS and name == "Error" and not _is_tls(link):
                continue
            return kind, _describe(link)
    for link in chain:
        if _is_tls(link):
            return ErrorKind.TLS, _describe(link)
    innermost = chain[-1] if chain else exc
    return ErrorKind.OTHER, _describe(innermost)


def _is_tls(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.split(".")[0] in _TLS_MODULES or "certificate" in str(exc).lower()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]
