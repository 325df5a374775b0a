"""Collect seed files from paths, directories and globs, and extract each one.

The only part of extraction that touches the file system. Every problem becomes a
message naming the file and the cause; the rest of the batch goes on.
"""

from __future__ import annotations

import glob
import hashlib
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from core.documents import ExtractedSeed, SeedError, SeedFormat
from crawler.extract.links import extract

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


# rotwatch's own files, when a data directory sits inside a seed directory.
_SKIP_ENDINGS = (".db-wal", ".db-shm", ".db-journal", ".warc.gz", ".warc.gz.open", ".partial",
                 ".lock")


def _looks_like_seed(path: Path) -> bool:
    name = path.name.lower()
    return (not name.startswith(".") and path.suffix.lower() not in _SKIP_SUFFIXES
            and not name.endswith(_SKIP_ENDINGS))


@dataclass(frozen=True)
class UnchangedSeed:
    """A seed whose bytes hash to what the store already holds: not parsed again."""

    path: str


SeedResult = ExtractedSeed | SeedProblem | UnchangedSeed
# Below this many files a process pool costs more to start than it saves.
_POOL_THRESHOLD = 200
_CHUNK = 50


def read_seed(path: Path, max_bytes: int, fmt: SeedFormat | None = None,
              known_sha256: str | None = None) -> SeedResult:
    """Read and extract one seed file; every problem becomes a SeedProblem naming it."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return SeedProblem(name, f"{name}: {size / 1e6:.1f} MB is over the seed size "
                                     f"limit of {max_bytes / 1e6:.1f} MB (max_seed_mb); skipped")
        with open(path, "rb") as handle:
            # Never more than the limit: a file can grow after stat(), and /proc files
            # report a size of 0 whatever they hold.
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        return SeedProblem(name, f"{name}: cannot read: {os.strerror(exc.errno or 0) or exc}")
    if len(data) > max_bytes:
        return SeedProblem(name, f"{name}: over the seed size limit of {max_bytes / 1e6:.1f} MB "
                                 "(max_seed_mb); skipped")
    if not data.strip():
        return SeedProblem(name, f"{name}: empty file; skipped")
    if known_sha256 is not None and hashlib.sha256(data).hexdigest() == known_sha256:
        return UnchangedSeed(name)
    try:
        return extract(data, name, fmt)
    except SeedError as exc:
        return SeedProblem(name, str(exc))
    except (ValueError, RecursionError) as exc:  # a parser giving up on hostile markup
        return SeedProblem(name, f"{name}: could not be parsed: {exc}")


def _read_chunk(paths: list[Path], max_bytes: int, fmt: SeedFormat | None,
                known: dict[str, str]) -> list[SeedResult]:
    return [read_seed(p, max_bytes, fmt, known.get(str(p))) for p in paths]


def read_seeds(files: Sequence[Path], *, max_bytes: int, fmt: SeedFormat | None = None,
               known: Callable[[list[str]], dict[str, str]] | None = None,
               workers: int = 1) -> Iterator[SeedResult]:
    """Extract each file, in order, lazily (a large batch is never all in memory).

    `known(paths)` gives the stored content hash of those paths, so unchanged seeds are
    skipped before parsing. With `workers` > 1 and enough files, extraction (pure CPU)
    runs in a pool of processes, a few chunks ahead of the caller.
    """
    chunks = [list(files[i:i + _CHUNK]) for i in range(0, len(files), _CHUNK)]

    def hashes(chunk: list[Path]) -> dict[str, str]:
        return known([str(p) for p in chunk]) if known else {}

    if workers <= 1 or len(files) < _POOL_THRESHOLD:
        for chunk in chunks:
            yield from _read_chunk(chunk, max_bytes, fmt, hashes(chunk))
        return
    context = multiprocessing.get_context("spawn")  # no inherited state, safe everywhere
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        window: deque[Future[list[SeedResult]]] = deque()
        for chunk in chunks:
            window.append(pool.submit(_read_chunk, chunk, max_bytes, fmt, hashes(chunk)))
            if len(window) > 2 * workers:
                yield from window.popleft().result()
        while window:
            yield from window.popleft().result()
