"""What surrounds each link in a parsed seed: its sentence, its anchor text, its sections.

One pass over the document builds an index (the text of every string in document order,
and where each element starts and ends in it); every question about a link is then a
slice of bounded size. Walking the tree per link instead costs the size of the block for
each link: quadratic for 100,000 links in one <body>, or links 10,000 elements deep.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from bs4 import BeautifulSoup, Tag
from bs4.element import CData, NavigableString

from core.roles import SECTION_NAMES

BLOCKS = frozenset({"p", "li", "td", "th", "dd", "dt", "blockquote", "figcaption", "figure",
                    "h1", "h2", "h3", "h4", "h5", "h6", "pre", "caption", "address",
                    "footer", "section", "article", "div", "body", "header", "nav", "aside"})
# Blocks whose text before a link is cut to CONTEXT_LIMIT: they hold many paragraphs.
_WIDE_BLOCKS = frozenset({"body", "section", "article", "div"})
# Strings get_text() reads for an <a>/<area> (bs4's main-content types; no comments,
# scripts or styles). Compared by exact type, as bs4 does.
_MAIN_TYPES = frozenset({NavigableString, CData})
_SENTENCE_END = re.compile(r"[。！？!?]|\.(?=\s)|\n\s*\n")
_SPACES = re.compile(r"\s+")
CONTEXT_LIMIT = 400
# How far back a sentence start is looked for inside a paragraph-like block, and how far
# an anchor's own text or the text after a link is read. A real sentence or anchor is far
# shorter; these only bound what a hostile seed can make each link cost.
_BEFORE_WINDOW = 5 * CONTEXT_LIMIT
_AFTER_WINDOW = 5 * CONTEXT_LIMIT
ANCHOR_LIMIT = 4000


@dataclass(frozen=True)
class _Span:
    """Where an element's content lies in the three index texts (start, end offsets)."""

    all_start: int
    all_end: int
    main_start: int
    main_end: int
    spaced_start: int
    spaced_end: int


@dataclass(frozen=True)
class _Open:
    """An element whose end the walk has not reached yet (the stack is as deep as the tree)."""

    tag: Tag
    block: Tag | None  # nearest block, itself included
    sections: tuple[str, ...]  # landmark sections, itself included
    starts: tuple[int, int, int]


class DocumentIndex:
    """Every string of a document in order, and the span of each element that matters.

    Memory beyond the texts is per link (its span, block and sections) plus one entry per
    level of nesting: a seed of a million <div>s costs no more than its links.
    """

    def __init__(self, soup: BeautifulSoup, wanted: frozenset[str]) -> None:
        all_parts: list[str] = []  # every NavigableString (context reads them all)
        main_parts: list[str] = []  # the strings get_text() would read
        string_ends: list[int] = []  # end offset of each string in the "all" text
        sizes = [0, 0, 0]  # running lengths: all, main, spaced (main + one space each)
        self._spans: dict[int, _Span] = {}
        self._block: dict[int, Tag | None] = {}
        self._sections: dict[int, tuple[str, ...]] = {}
        needed: set[int] = set()  # blocks some link reads its context from
        stack = [_Open(soup, None, (), (0, 0, 0))]

        def close(entry: _Open) -> None:
            if id(entry.tag) in needed or entry.tag.name in wanted:
                a, m, s = entry.starts
                self._spans[id(entry.tag)] = _Span(a, sizes[0], m, sizes[1], s, sizes[2])

        for node in soup.descendants:
            parent = node.parent
            while len(stack) > 1 and stack[-1].tag is not parent:
                close(stack.pop())
            if isinstance(node, Tag):
                outer = stack[-1]
                if node.name in wanted:
                    self._block[id(node)] = outer.block
                    self._sections[id(node)] = outer.sections
                    if outer.block is not None:
                        needed.add(id(outer.block))
                sections = outer.sections
                if node.name in SECTION_NAMES and node.name not in sections:
                    sections = (node.name, *sections)  # innermost first, each name once
                block = node if node.name in BLOCKS else outer.block
                stack.append(_Open(node, block, sections, (sizes[0], sizes[1], sizes[2])))
            elif isinstance(node, NavigableString):
                text = str(node)
                all_parts.append(text)
                sizes[0] += len(text)
                string_ends.append(sizes[0])
                if type(node) in _MAIN_TYPES:
                    main_parts.append(text)
                    sizes[1] += len(text)
                    sizes[2] += len(text) + 1
        while len(stack) > 1:
            close(stack.pop())
        self._all = "".join(all_parts)
        self._main = "".join(main_parts)
        self._spaced = " ".join(main_parts) + " "
        self._string_ends = string_ends

    def sections(self, element: Tag) -> tuple[str, ...]:
        """Enclosing landmark sections (core.roles.SECTION_NAMES), innermost first."""
        return self._sections.get(id(element), ())

    def anchor_text(self, element: Tag) -> str:
        """clean(element.get_text(" ")), reading at most ANCHOR_LIMIT characters."""
        span = self._spans.get(id(element))
        if span is None:
            return clean(element.get_text(" "))
        end = min(span.spaced_end, span.spaced_start + ANCHOR_LIMIT)
        return clean(self._spaced[span.spaced_start:end])

    def context(self, element: Tag) -> str:
        """The sentence around the link, from its enclosing block (works for Chinese too)."""
        block = self._block.get(id(element))
        span = self._spans.get(id(element))
        outer = self._spans.get(id(block)) if block is not None else None
        if block is None or span is None or outer is None:
            return ""
        window = CONTEXT_LIMIT if block.name in _WIDE_BLOCKS else _BEFORE_WINDOW
        prefix = self._all[max(outer.all_start, span.all_start - window):span.all_start]
        own = ""
        if element.name in ("a", "area"):
            own = self._main[span.main_start:min(span.main_end, span.main_start + ANCHOR_LIMIT)]
        # Whole strings after the link until more than CONTEXT_LIMIT characters are read.
        start = span.all_end
        index = bisect_right(self._string_ends, start + CONTEXT_LIMIT)
        cut = self._string_ends[index] if index < len(self._string_ends) else len(self._all)
        end = min(outer.all_end, cut, start + _AFTER_WINDOW)
        return sentence_around(prefix, own, self._all[start:max(start, end)])


def sentence_around(before: str, own: str, after: str) -> str:
    """The sentence containing `own`, given the text before and after it."""
    start = 0
    for match in _SENTENCE_END.finditer(before):
        start = match.end()
    end_match = _SENTENCE_END.search(after)
    tail = after[: end_match.end()] if end_match else after
    sentence = clean(before[start:] + own + tail)
    if len(sentence) > CONTEXT_LIMIT:
        sentence = sentence[: CONTEXT_LIMIT - 1] + "…"
    return sentence


def clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()
