"""Content drift ("reference rot"): has a page's main text changed since its first snapshot?

A cited page can keep answering 200 while its content is rewritten, replaced by another
article, a landing page, a paywall stub or a parking page. We compare only the *main text*
(trafilatura, with a BeautifulSoup visible-text fallback) so that ads, dates, view counters,
navigation and related-article lists churning around the article do not count as drift.

Comparison is character n-gram Jaccard similarity (`core.textsim`), which works for
Chinese as well as for alphabetic languages; see docs/drift.md for the measurements behind
the threshold.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from html import unescape
from typing import Any, Final

from core.text_decoding import decode_text, looks_binary
from core.textsim import normalise_text, similarity

LOGGER = logging.getLogger(__name__)

# Tuned on tests/fixtures/drift (see docs/drift.md): inside the gap between the highest
# "drifted" (0.50) and lowest "not drifted" (0.89) similarity, a little below its midpoint
# because real-world extraction noise lowers not-drifted scores more than it raises drift.
DEFAULT_THRESHOLD: Final = 0.65
# Character 5-grams, not textsim's default trigrams: unrelated English texts share ~30% of
# their trigram sets (" th", "ing"...) but ~5% of their 5-gram sets, so a half-rewritten
# English article scored 0.69 with trigrams (indistinguishable from boilerplate noise) and
# 0.50 with 5-grams. Chinese separates well at any n from 2 to 6.
DRIFT_NGRAM: Final = 5

EXTRACTOR_TRAFILATURA: Final = "trafilatura"
EXTRACTOR_FALLBACK: Final = "bs4-visible-text"
EXTRACTOR_NONE: Final = "none"

# trafilatura returning fewer characters than this usually means it latched onto a caption
# or a lone teaser; the visible-text fallback then sees more of what a reader sees.
_MIN_TRAFILATURA_CHARS: Final = 25
# The fallback narrows to one block only when it clearly dominates the paragraph text.
_MIN_BLOCK_CHARS: Final = 200
_BLOCK_SHARE: Final = 0.6


@dataclass(frozen=True)
class MainText:
    """The main content of one page: its title, its body text and which extractor found it."""

    title: str
    text: str
    extractor: str


@dataclass(frozen=True)
class DriftResult:
    """How a current snapshot compares with the baseline."""

    similarity: float
    drifted: bool
    fingerprint_changed: bool


# --- extraction ---------------------------------------------------------------------------

_NOISE_TAGS: Final = (
    "script", "style", "noscript", "template", "svg", "iframe", "form", "button",
    "nav", "header", "footer", "aside", "select", "input", "head",
)  # fmt: skip
# Class/id words that mark boilerplate blocks on news, government and blog templates; the
# pinyin ones (daohang = navigation, guanggao = ad, xiangguan = related) are common on
# Chinese sites.
_NOISE_ATTR: Final = re.compile(
    r"(^|[\s_-])(nav|navbar|menu|breadcrumbs?|banner|ads?|advert\w*|sponsor\w*|promo|"
    r"cookies?|consent|gdpr|sidebar|related|recommend\w*|share|social|comments?|footer|"
    r"header|subscribe|newsletter|popular|trending|hot|daohang|guanggao|xiangguan|tuijian)"
    r"($|[\s_-])",
    re.IGNORECASE,
)
_BLANK_LINES: Final = re.compile(r"\n\s*\n+")
_SPACES: Final = re.compile(r"[ \t\u3000\xa0]+")


def _tidy(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n", "\n".join(line for line in lines if line)).strip()


def trafilatura_extract(html: str, url: str | None = None) -> MainText:
    """trafilatura alone (precision-oriented); may raise on pathological markup."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        html,
        url=url,
        # fast: no readability/jusText second opinions. They tripled the cost per page
        # and changed no result on the drift fixtures (see docs/drift.md).
        fast=True,
        favor_precision=True,  # drift must not be triggered by boilerplate leaking in
        include_comments=False,  # reader comments churn daily on a stable article
        include_tables=False,  # tables are mostly layout/stock tickers on news templates
        include_images=False,
        include_links=False,
        # Only the title is wanted from the metadata, and it is cheap to read without
        # trafilatura's date extraction (htmldate), which costs more than the text itself.
        with_metadata=False,
        deduplicate=False,
    )
    if doc is None:
        return MainText("", "", EXTRACTOR_TRAFILATURA)
    text = getattr(doc, "text", None) or ""
    title = getattr(doc, "title", None) or _html_title(html)
    return MainText(_tidy(title), _tidy(text), EXTRACTOR_TRAFILATURA)


# Stops at the next "<": "<" after "<" with no ">" is then linear, not quadratic.
_TAG = re.compile(r"<[^<>]+>")


def _element_text(html: str, lowered: str, name: str) -> str | None:
    """Inner HTML of the first <name …>…</name>, found with str.find only: a regex with a
    lazy body backtracks quadratically on pages full of unclosed tags."""
    start = lowered.find(f"<{name}")
    while start != -1:
        after = lowered[start + len(name) + 1: start + len(name) + 2]
        if after in (">", "/", " ", "\t", "\n", "\r"):
            opened = lowered.find(">", start)
            if opened == -1:
                return None
            closed = lowered.find(f"</{name}", opened)
            return html[opened + 1: closed] if closed != -1 else None
        start = lowered.find(f"<{name}", start + 1)
    return None


def _html_title(html: str) -> str:
    """The article's headline: its first <h1> (no site-name suffix), else <title>."""
    head = html[:500_000]
    lowered = head.lower()
    for name in ("h1", "title"):
        inner = _element_text(head, lowered, name)
        if inner:
            text = " ".join(unescape(_TAG.sub(" ", inner)).split())
            if text:
                return text
    return ""


def _is_noise(tag: object) -> bool:
    attrs = getattr(tag, "attrs", None)
    if not isinstance(attrs, dict):  # NavigableStrings and already-decomposed tags
        return False
    classes = attrs.get("class") or []
    words = " ".join([*classes] if isinstance(classes, list) else [str(classes)])
    words += " " + str(attrs.get("id") or "") + " " + str(attrs.get("role") or "")
    return bool(_NOISE_ATTR.search(words)) or attrs.get("aria-hidden") == "true"


def fallback_extract(html: str) -> MainText:
    """Visible text minus obvious boilerplate, for pages trafilatura declines."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    title = ""
    og = soup.find("meta", attrs={"property": "og:title"})
    if og is not None and og.get("content"):
        title = str(og.get("content"))
    elif soup.title is not None and soup.title.string:
        title = str(soup.title.string)
    elif (h1 := soup.find("h1")) is not None:
        title = h1.get_text(" ")
    for tag in soup.find_all(_NOISE_TAGS):
        tag.decompose()
    for tag in soup.find_all(True):
        if _is_noise(tag):
            tag.decompose()
    root = _densest_block(soup.body or soup)
    return MainText(_tidy(title), _tidy(root.get_text("\n")), EXTRACTOR_FALLBACK)


def _densest_block(root: Any) -> Any:
    """The element whose direct <p> children hold most of the page's paragraph text.

    Table-layout and hand-made sites put sponsors and visitor counters in sibling cells
    that the class/id heuristics cannot name; the article is wherever the paragraphs are.
    Falls back to the whole body when paragraphs are scattered or absent (landing pages,
    parked domains), because then no single block *is* the content.
    """
    weight: dict[int, int] = {}
    parents: dict[int, Any] = {}
    for para in root.find_all("p"):
        parent = para.parent
        if parent is None:
            continue
        weight[id(parent)] = weight.get(id(parent), 0) + len(para.get_text(strip=True))
        parents[id(parent)] = parent
    total = sum(weight.values())
    if total < _MIN_BLOCK_CHARS:
        return root
    best = max(weight, key=weight.__getitem__)
    return parents[best] if weight[best] >= _BLOCK_SHARE * total else root


def extract_main_text(
    html: bytes | str, url: str | None = None, *, encoding: str | None = None
) -> MainText:
    """The title and main text of a page; empty text (never an exception) on garbage input.

    `encoding` is the charset from the HTTP Content-Type header, if any; bytes are decoded
    by `core.text_decoding`, as the crawl decoded them for the verdict.
    """
    if looks_binary(html):
        return MainText("", "", EXTRACTOR_NONE)
    try:
        page = decode_text(html, encoding).text if isinstance(html, bytes) else html
    except Exception:  # decode_text is written not to raise; this is a last guard
        LOGGER.debug("decoding failed", exc_info=True)
        return MainText("", "", EXTRACTOR_NONE)
    if not page.strip() or looks_binary(page):
        return MainText("", "", EXTRACTOR_NONE)
    page = page.replace("\x00", "")  # lxml rejects NULs; stray ones occur in real pages
    main = MainText("", "", EXTRACTOR_NONE)
    try:
        main = trafilatura_extract(page, url)
    except Exception:  # trafilatura/lxml can fail on pathological markup
        LOGGER.debug("trafilatura failed on %s", url, exc_info=True)
    if len(main.text) >= _MIN_TRAFILATURA_CHARS:
        return main
    try:
        fallback = fallback_extract(page)
    except Exception:
        LOGGER.debug("fallback extraction failed on %s", url, exc_info=True)
        fallback = MainText("", "", EXTRACTOR_NONE)
    title = main.title or fallback.title
    if fallback.text:
        return MainText(title, fallback.text, EXTRACTOR_FALLBACK)
    if main.text:
        return MainText(title, main.text, EXTRACTOR_TRAFILATURA)
    return MainText(title, "", EXTRACTOR_NONE)


# --- comparison ---------------------------------------------------------------------------


def content_fingerprint(text: str) -> str:
    """sha256 hex of the normalised text: case, punctuation and whitespace do not count."""
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def compare(
    baseline_text: str, current_text: str, *, threshold: float = DEFAULT_THRESHOLD
) -> DriftResult:
    """Compare two main texts; `drifted` when similarity falls below `threshold`."""
    if content_fingerprint(baseline_text) == content_fingerprint(current_text):
        # The common case on re-checks: skip building n-gram sets entirely.
        return DriftResult(similarity=1.0, drifted=False, fingerprint_changed=False)
    score = similarity(baseline_text, current_text, n=DRIFT_NGRAM)
    return DriftResult(similarity=score, drifted=score < threshold, fingerprint_changed=True)


@dataclass(frozen=True)
class AgainstBaseline:
    """A capture's text as recorded against its target's baseline (None: nothing to say)."""

    content_hash: str | None
    similarity: float | None
    drifted: bool | None


def against_baseline(text: str | None, baseline_text: str | None, *,
                     same_payload: bool) -> AgainstBaseline:
    """The one rule for a check's content hash and drift, used by the Recorder and by a
    fleet's gathering alike (their rows must compare equal).

    `same_payload`: the capture's payload is the baseline's (same digest), so there is
    nothing to compare whatever text is known. An empty or unknown baseline text gives no
    comparison; a text equal to the baseline's needs none."""
    if not text:
        return AgainstBaseline(None, 1.0 if same_payload else None,
                               False if same_payload else None)
    content_hash = content_fingerprint(text)
    if same_payload or text == baseline_text:
        return AgainstBaseline(content_hash, 1.0, False)
    if not baseline_text:
        return AgainstBaseline(content_hash, None, None)
    drift = compare(baseline_text, text)
    return AgainstBaseline(content_hash, drift.similarity, drift.drifted)
