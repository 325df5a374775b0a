"""Records of what extraction finds in a seed article: the document and its outbound links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SeedFormat(StrEnum):
    NEWS_EXPORT = "news-export"
    HTML = "html"
    MARKDOWN = "markdown"
    TEXT = "text"


class Role(StrEnum):
    """Why the article links to a target; decided by the rule table in crawler/roles.py."""

    SELF = "self"
    ORIGINAL = "original"
    PRIMARY_SOURCE = "primary-source"
    AUTHOR = "author"
    IMAGE = "image"
    MEDIA = "media"
    CITATION = "citation"
    NAVIGATION = "navigation"


@dataclass(frozen=True)
class SeedDocument:
    """One seed article: where it lives, what it says about itself."""

    path: str
    format: SeedFormat
    encoding: str
    content_sha256: str
    url: str | None = None
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True)
class OutboundLink:
    """One link found in a seed, with everything a reviewer needs to judge it later."""

    href: str
    url: str
    key: str
    host: str
    role: Role
    element: str
    anchor_text: str
    title: str | None
    context: str
    position: int
    checkable: bool
    reason: str | None = None


@dataclass(frozen=True)
class ExtractedSeed:
    document: SeedDocument
    links: tuple[OutboundLink, ...]
    warnings: tuple[str, ...] = ()


class SeedError(Exception):
    """A seed that cannot be read at all; the message names the cause."""
