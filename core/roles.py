"""The role rule table: why an article links somewhere. Pure, ordered, readable.

Rules are tried top to bottom; the first that matches decides. Each rule looks only at
facts extraction already has (element, anchor text, enclosing sections, URL), so each
rule is explained in one line in the table below. Only the role is stored: reports show
the role, not the explanation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from core.documents import Role


@dataclass(frozen=True)
class LinkFacts:
    key: str
    host: str
    element: str  # e.g. "a/href", "img/src", "link/canonical"
    anchor_text: str
    rel: tuple[str, ...]
    hreflang: str | None
    sections: tuple[str, ...]  # enclosing SECTION_NAMES, innermost first: ("footer", "nav")
    self_key: str | None


_ORIGINAL_TEXT = re.compile(
    r"英文版|英文原文|英文原版|原文链接|阅读原文|查看原文|english version|read (this|it) in english"
    r"|original (article|story|version)|in english",
    re.IGNORECASE,
)
_AUTHOR_TEXT = re.compile(
    r"关于(他|她|作者)的(更多)?信息|作者(简介|主页)|more about (him|her|the author)"
    r"|about the author|author page|^by\s",
    re.IGNORECASE,
)
_AUTHOR_PATH = re.compile(r"/(by|author|authors|people|profile|staff|byline)/", re.IGNORECASE)
_PRIMARY_TEXT = re.compile(
    r"纪要|声明|公告|通报|讲话|全文|答记者问|新闻稿|readout|statement|press release|transcript"
    r"|communiqu[eé]|joint declaration|fact sheet|remarks by",
    re.IGNORECASE,
)
# Government and intergovernmental domains: .gov and .gov.xx (incl. gov.cn), .mil, .int,
# and a few intergovernmental bodies that do not live under .int.
_PRIMARY_HOST = re.compile(
    r"(^|\.)(gov|mil|int)(\.[a-z]{2})?$|(^|\.)gov\.[a-z]{2,3}$|(^|\.)(gc\.ca|gouv\.fr|bund\.de"
    r"|europa\.eu|un\.org|who\.int|state\.gov|whitehouse\.gov|parliament\.uk|go\.jp|go\.kr)$",
    re.IGNORECASE,
)
_MEDIA_ELEMENTS = ("video/", "audio/", "iframe/", "embed/", "object/", "track/")
_IMAGE_ELEMENTS = ("img/", "source/", "picture/")
_CHROME_SECTIONS = frozenset({"nav", "header", "aside", "menu"})
# The only enclosing elements a rule looks at; extraction records just these (each once),
# so a link 10,000 elements deep carries a handful of names, not 10,000.
SECTION_NAMES = _CHROME_SECTIONS | {"address", "footer"}


def _is_self(f: LinkFacts) -> bool:
    return f.element == "link/canonical" or (f.self_key is not None and f.key == f.self_key)


def _is_image(f: LinkFacts) -> bool:
    return f.element.startswith(_IMAGE_ELEMENTS) or f.element == "video/poster"


def _is_media(f: LinkFacts) -> bool:
    return f.element.startswith(_MEDIA_ELEMENTS)


def _is_original(f: LinkFacts) -> bool:
    if f.hreflang and "alternate" in f.rel:
        return True
    return bool(_ORIGINAL_TEXT.search(f.anchor_text))


def _is_author(f: LinkFacts) -> bool:
    if "author" in f.rel or "address" in f.sections:
        return True
    if _AUTHOR_TEXT.search(f.anchor_text.strip()):
        return True
    # Author-page paths count only in the footer: in the body, /people/ may be a citation.
    return "footer" in f.sections and bool(_AUTHOR_PATH.search(f.key))


def _is_primary_source(f: LinkFacts) -> bool:
    return bool(_PRIMARY_HOST.search(f.host) or _PRIMARY_TEXT.search(f.anchor_text))


def _is_navigation(f: LinkFacts) -> bool:
    return bool(_CHROME_SECTIONS.intersection(f.sections))


# The table itself: (role, rule, one-line explanation for readers of this table).
RULES: tuple[tuple[Role, Callable[[LinkFacts], bool], str], ...] = (
    (Role.SELF, _is_self, "the article's own URL (title link, canonical)"),
    (Role.IMAGE, _is_image, "img/srcset/picture source or video poster"),
    (Role.MEDIA, _is_media, "video, audio, iframe or embed"),
    (Role.ORIGINAL, _is_original, "rel=alternate hreflang, or 'English version' wording"),
    (Role.AUTHOR, _is_author, "byline <address>, rel=author, author-page wording"),
    (Role.PRIMARY_SOURCE, _is_primary_source,
     "government/intergovernmental domain, or readout/statement wording"),
    (Role.NAVIGATION, _is_navigation, "inside nav/header/aside: site chrome"),
    (Role.CITATION, lambda f: True, "any other link in the article"),
)


def assign_role(facts: LinkFacts) -> Role:
    for role, rule, _why in RULES:
        if rule(facts):
            return role
    return Role.CITATION
