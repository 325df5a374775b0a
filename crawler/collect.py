"""Collect seed files from paths, directories and globs, and extract each one.

The only part of extraction that touches the file system. Every problem becomes a
message naming the file and the cause; the rest of the batch goes on.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from crawler.documents import ExtractedSeed, SeedError, SeedFormat
from crawler.extract import extract

# Files that are never seeds even inside a seed directory.
_SKIP_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".pdf", ".zip", ".gz",
                            ".db", ".sqlite", ".warc", ".pyc"})


@dataclass(frozen=True)
class SeedProblem:
    path: str
    message: str


def find_seed_files(paths: Sequence[str]) -> tuple[list[Path], list[SeedProblem]]:
    """Expand paths, directories (recursively) and glob patterns into seed files."""
    files: list[Path] = []
    problems: list[SeedProblem] = []
    for raw in paths:
        matches = [Path(m) for m in sorted(glob.glob(raw, recursive=True))] if glob.has_magic(
            raw) else [Path(raw)]
        if not matches:
            problems.append(SeedProblem(raw, f"{raw}: no file matches this pattern"))
        for path in matches:
            if path.is_dir():
                found = sorted(p for p in path.rglob("*") if p.is_file() and _looks_like_seed(p))
                if not found:
                    problems.append(SeedProblem(str(path), f"{path}: directory holds no seeds"))
                files.extend(found)
            elif path.is_file():
                files.append(path)
            else:
                problems.append(SeedProblem(str(path), f"{path}: no such file or directory"))
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return unique, problems


def _looks_like_seed(path: Path) -> bool:
    return not path.name.startswith(".") and path.suffix.lower() not in _SKIP_SUFFIXES


def read_seeds(files: Sequence[Path], *, max_bytes: int, fmt: SeedFormat | None = None
               ) -> Iterator[ExtractedSeed | SeedProblem]:
    """Extract each file in turn (lazily, so a large batch is never all in memory)."""
    for path in files:
        name = str(path)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                yield SeedProblem(name, f"{name}: {size / 1e6:.1f} MB is over the seed size "
                                        f"limit of {max_bytes / 1e6:.1f} MB (max_seed_mb); skipped")
                continue
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            yield SeedProblem(name, f"{name}: cannot read: {os.strerror(exc.errno or 0) or exc}")
            continue
        if not data.strip():
            yield SeedProblem(name, f"{name}: empty file; skipped")
            continue
        try:
            yield extract(data, name, fmt)
        except SeedError as exc:
            yield SeedProblem(name, str(exc))
        except (ValueError, RecursionError) as exc:  # a parser giving up on hostile markup
            yield SeedProblem(name, f"{name}: could not be parsed: {exc}")
