"""fsspec access to an object-storage shared location: connecting, errors, digests.

What the object-storage side relies on, and nothing more: one PUT of a whole object is
atomic and the object does not change afterwards, and a GET returns it whole or fails. So
files are uploaded whole when finished (never appended to), a retry writes under a new
attempt prefix (never over an old object), and the done marker, uploaded last, lists
every file with its size and SHA-256 so the reader can tell a whole attempt from a torn one.
Credentials come from the environment or fsspec's own configuration and never appear in a
message: errors are named by their type and the store's own one-line text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rotwatch.cluster.shared_dir import DONE, ITEMS, TARGETS, WARCS
from rotwatch.cluster.shared_store import SharedStoreError

T = TypeVar("T")
EXTRA = "pip install 'rotwatch[object-storage]'"
_CHUNK = 1 << 20


def describe(exc: BaseException) -> str:
    """One line naming the cause (the type, and the first line of the text)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text[:300]}" if text else name


@dataclass(frozen=True)
class Remote:
    """An fsspec filesystem and a path on it (the URL's path, without the protocol)."""

    fs: Any
    path: str
    url: str  # for messages and for nodes; a URL never carries credentials (config rule)

    def child(self, *parts: str) -> Remote:
        path = "/".join([self.path.rstrip("/"), *parts])
        return Remote(self.fs, path, "/".join([self.url.rstrip("/"), *parts]))

    def call(self, what: str, action: Callable[[], T]) -> T:
        """Run one store operation; any failure becomes a SharedStoreError naming it."""
        try:
            return action()
        except FileNotFoundError:
            raise
        except Exception as exc:  # botocore, aiohttp, … each have their own types
            raise SharedStoreError(f"object store {self.url}: cannot {what}: "
                                   f"{describe(exc)}") from None


def connect(url: str, options: dict[str, Any]) -> Remote:
    try:
        import fsspec
    except ImportError:
        raise SharedStoreError(f"shared_dir {url}: object storage needs fsspec ({EXTRA})") \
            from None
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:  # the protocol's own package (s3fs, gcsfs…) is missing
        raise SharedStoreError(f"shared_dir {url}: {describe(exc)}") from None
    except Exception as exc:  # an unknown protocol, an option the protocol does not take
        raise SharedStoreError(f"shared_dir {url}: {describe(exc)}") from None
    return Remote(fs, str(path), url)


def attempt_remote(shard: Remote, attempt: int) -> Remote:
    return shard.child(f"attempt-{attempt}")


def file_digest(path: Path) -> dict[str, Any]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as data:
        while chunk := data.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": sha.hexdigest()}


def listed_files(done: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The marker's files (relative name → size and digest); refuses a malformed list."""
    files = done.get("files")
    if not isinstance(files, dict) or not all(
            isinstance(name, str) and isinstance(entry, dict)
            and isinstance(entry.get("size"), int) and isinstance(entry.get("sha256"), str)
            and _safe_name(name) for name, entry in files.items()):
        raise SharedStoreError("done marker without a valid file list")
    return files


def _safe_name(name: str) -> bool:
    # items.jl, or warcs/<file>: never a path that climbs out of the local directory
    if name == ITEMS:
        return True
    head, _, tail = name.partition("/")
    return head == WARCS and bool(tail) and "/" not in tail and tail not in (".", "..")


def download_checked(remote: Remote, name: str, entry: dict[str, Any], local: Path) -> None:
    """Download one listed file to `local`, whole and as listed, or raise (removing it)."""
    local.parent.mkdir(parents=True, exist_ok=True)
    try:
        remote.call(f"download {name}", lambda: remote.fs.get_file(
            remote.child(name).path, str(local)))
    except FileNotFoundError:
        raise SharedStoreError(f"{remote.url}: {name} is listed in {DONE} but missing") \
            from None
    got = file_digest(local)
    if got != {"size": entry["size"], "sha256": entry["sha256"]}:
        local.unlink(missing_ok=True)
        raise SharedStoreError(f"{remote.url}: {name} is {got['size']} bytes with another "
                               f"digest than {DONE} lists ({entry['size']} bytes)")


def read_marker(remote: Remote) -> dict[str, Any] | None:
    """An attempt's done marker, or None when there is none yet."""
    try:
        data = remote.call(f"read {DONE}", lambda: remote.fs.cat_file(
            remote.child(DONE).path))
    except FileNotFoundError:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None  # markers are written whole: this is not one of ours
    return value if isinstance(value, dict) else None


__all__ = ["DONE", "ITEMS", "TARGETS", "WARCS", "Remote", "attempt_remote", "connect",
           "describe", "download_checked", "file_digest", "listed_files", "read_marker"]
