"""Plain-language wording for reports: what a state means and why a check said what it said.

The technical reason stays in the report, one click away; these sentences are what a
reviewer reads first. Pure: no I/O.
"""

from __future__ import annotations

from core.records import ErrorKind, Verdict

# The legend of states, in report order (what a reviewer must act on first).
LEGEND: tuple[tuple[str, str], ...] = (
    ("dead", "Failed again and again over several days: replace the link or point to a copy."),
    ("failing", "Failed recently; not dead yet, it may come back. Worth a look."),
    ("changed", "Works, but the page no longer says what it said when it was cited."),
    ("moved", "Works through a permanent redirect: link to the new address."),
    ("recovered", "Works again after failing; shown for a few checks, no action needed."),
    ("blocked", "The site turned rotwatch away or asks robots to stay out: nobody could tell."),
    ("alive", "Works and says what it said."),
    ("new", "Not checked yet."),
)
STATE_MEANING = dict(LEGEND)

_ERROR_WORDS = {
    ErrorKind.REFUSED: "Could not connect: the server refused",
    ErrorKind.RESET: "Could not connect: the connection was cut off",
    ErrorKind.TIMEOUT: "Could not connect: the server did not answer",
    ErrorKind.INVALID_RESPONSE: "The server answered with something that is not a web page "
                                "response",
    ErrorKind.PRIVATE_ADDRESS: "Not checked: the address points into a private network",
    ErrorKind.UNSUPPORTED: "Not checked: this kind of address cannot be fetched",
    ErrorKind.TOO_MANY_REDIRECTS: "The page sends visitors through too many redirects",
    ErrorKind.REDIRECT_LOOP: "The page redirects in a circle and never arrives",
}


def _status_words(status: int | None) -> str:
    if status == 404:
        return "The server says this page does not exist (HTTP 404)"
    if status == 410:
        return "The server says this page is gone (HTTP 410)"
    if status in (401, 403):
        return f"The site refused to show the page to rotwatch (HTTP {status})"
    if status == 429:
        return "The site asked rotwatch to slow down (HTTP 429)"
    return f"The server would not give the page (HTTP {status})" if status else \
        "The server would not give the page"


def _verdict_words(verdict: Verdict, status: int | None, error: ErrorKind | None) -> str:
    if error is not None and error in _ERROR_WORDS:
        return _ERROR_WORDS[error]
    if verdict is Verdict.OK:
        return "The page works"
    if verdict is Verdict.REDIRECTED:
        return "The page works, through a redirect"
    if verdict is Verdict.BROKEN:
        return _status_words(status)
    if verdict is Verdict.SERVER_ERROR:
        return f"The site is failing: its server reported an error (HTTP {status})" \
            if status else "The site is failing: its server reported an error"
    if verdict is Verdict.SOFT_404:
        return "The site answered, but the page says 'Page not found'"
    if verdict is Verdict.BLOCKED:
        return _status_words(status) + ", so nobody could tell whether it works"
    if verdict is Verdict.ROBOTS_DISALLOWED:
        return "The site asks robots not to fetch this page, so it was not checked"
    if verdict is Verdict.TIMEOUT:
        return "The site took too long to answer"
    if verdict is Verdict.DNS_FAILURE:
        return "The site's name does not lead anywhere any more (no DNS record)"
    if verdict is Verdict.TLS_ERROR:
        return "Could not connect securely: the site's certificate or encryption failed"
    if verdict is Verdict.REDIRECT_LOOP:
        return "The page redirects in a circle and never arrives"
    if verdict is Verdict.CONNECTION_FAILED:
        return "Could not connect to the server"
    return "Not checked"


def plain_reason(state: str, verdict: str | None, status: int | None,
                 error_kind: str | None = None, similarity: float | None = None) -> str:
    """One sentence a reviewer understands without knowing HTTP."""
    if state == "new" or verdict is None:
        return "Not checked yet."
    try:
        judged = Verdict(verdict)
    except ValueError:
        return f"The last check ended as {verdict!r}."
    try:
        error = ErrorKind(error_kind) if error_kind else None
    except ValueError:
        error = None
    if state == "changed" and judged.is_healthy:
        same = f" (about {similarity:.0%} of the text is the same)" if similarity is not None \
            else ""
        return f"The page works, but its text has changed since it was cited{same}."
    if state == "moved" and judged.is_healthy:
        return "The page has moved for good: the old address redirects to a new one."
    if state == "recovered" and judged.is_healthy:
        return "The page works again after failing."
    return _verdict_words(judged, status, error) + "."
