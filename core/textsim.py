"""Text similarity that works for CJK and alphabetic text alike: character n-gram Jaccard.

Word shingles fail on Chinese (no spaces), so both the soft-404 comparison and drift
detection compare sets of character n-grams of normalised text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
# In ASCII, [\W_] is exactly what is not alphanumeric.
_ASCII_NON_WORD = str.maketrans({c: " " for c in range(128) if not chr(c).isalnum()})


def normalise_text(text: str) -> str:
    """NFKC, lower-case, punctuation and whitespace collapsed to single spaces."""
    if text.isascii():
        # The same result for ASCII (NFKC leaves it as it is, casefold is lower), at a
        # tenth of the regex's cost: an article page's 20,000 characters are normalised
        # for every soft-404 comparison.
        return " ".join(text.lower().translate(_ASCII_NON_WORD).split())
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NON_WORD.sub(" ", folded).strip()


def _ngrams(text: str, n: int) -> frozenset[str]:
    return _ngrams_of(normalise_text(text), n)


def _ngrams_of(norm: str, n: int) -> frozenset[str]:
    """The n-grams of an already normalised text."""
    if not norm:
        return frozenset()
    if len(norm) <= n:
        return frozenset({norm})
    return frozenset(norm[i : i + n] for i in range(len(norm) - n + 1))


@lru_cache(maxsize=64)
def char_ngrams(text: str, n: int = 3) -> frozenset[str]:
    """The set of character n-grams of the normalised text (the whole text if shorter)."""
    # Cached (a few entries) for the side compared many times: one host's soft-404 probe
    # is compared with each of its pages. Only that side: an article's set of 5-grams is a
    # few MB, and 64 cached pages held most of a crawl's memory when every page drifted.
    return _ngrams(text, n)


def _jaccard(grams_a: frozenset[str], grams_b: frozenset[str]) -> float:
    if not grams_a and not grams_b:
        return 1.0
    union = len(grams_a | grams_b)
    return len(grams_a & grams_b) / union if union else 0.0


def similarity(a: str, b: str, n: int = 3) -> float:
    """Jaccard similarity of the two texts' character n-gram sets, in [0, 1].

    Two empty texts are identical (1.0); one empty and one not share nothing (0.0).
    Nothing is cached: a drift comparison's two texts are each compared once.
    """
    return _jaccard(_ngrams(a, n), _ngrams(b, n))


def similarity_at_least(a: str, b: str, floor: float, n: int = 3, *,
                        normalised: bool = False) -> float | None:
    """`similarity(a, b, n)` when it is at least `floor`, else None, usually decided after
    a few n-grams of `a`.

    `normalised`: `a` is already `normalise_text`'s output. ASCII is then used as it is
    (normalising it again gives it back unchanged); other text is normalised again, as
    before, since NFKC after case folding need not leave it as it was.

    Every n-gram of `a` missing from `b` adds to the union and not to the intersection, so
    with m distinct ones the similarity is at most |B| / (|B| + m): once that is below
    `floor` the answer is None without building `a`'s whole set (a page compared with a
    short error page is refused within a few characters).
    """
    grams_b = char_ngrams(b, n)
    norm = a if normalised and a.isascii() else normalise_text(a)
    if grams_b and len(norm) > n:
        size, misses = len(grams_b), set()
        for i in range(len(norm) - n + 1):
            gram = norm[i : i + n]
            if gram not in grams_b and gram not in misses:
                misses.add(gram)
                # the same float division as similarity's, and it only grows: exact
                if size / (size + len(misses)) < floor:
                    return None
    # `a`'s text is normalised once (it was twice); `b` is the probe: its set is cached.
    score = _jaccard(_ngrams_of(norm, n), grams_b)
    return score if score >= floor else None

