"""rotwatch as a Scrapyd egg: its own packages zipped with the egg metadata Scrapyd reads.

The same format `scrapyd-deploy --build-egg` produces (a zip with `EGG-INFO/PKG-INFO` and a
`scrapy` entry point naming the settings module), built here from the installed packages,
so a coordinator installed from a wheel can deploy too. Nodes provide the dependencies
(Scrapy, warcio, …; `pip install rotwatch[fleet]`); the egg carries only rotwatch's code.
The zip is byte-for-byte reproducible, and its version is its digest: the same code is the
same version on every node, and a node that has it already is not sent it again.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

PROJECT = "rotwatch"
PACKAGES = ("core", "crawler", "archive", "scheduler", "rotwatch")
SETTINGS_MODULE = "rotwatch.cluster.node_settings"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: no build time in the bytes


@dataclass(frozen=True)
class Egg:
    version: str
    data: bytes


def _sources() -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        assert module.__file__ is not None
        root = Path(module.__file__).parent
        for path in sorted(root.rglob("*.py")):
            found.append((f"{package}/{path.relative_to(root).as_posix()}", path))
    return found


def _entry(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def _zip(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files:
            _entry(archive, name, data)
    return buffer.getvalue()


def build_egg() -> Egg:
    """The egg of the code this process runs; its version is a digest of the code."""
    code = [(name, path.read_bytes()) for name, path in _sources()]
    digest = hashlib.sha256(_zip(code)).hexdigest()[:16]
    version = f"r{digest}"  # letters and digits only: Scrapyd stores it unchanged
    metadata = [
        ("EGG-INFO/PKG-INFO",
         f"Metadata-Version: 1.0\nName: {PROJECT}\nVersion: {version}\n".encode()),
        ("EGG-INFO/entry_points.txt", f"[scrapy]\nsettings = {SETTINGS_MODULE}\n".encode()),
        ("EGG-INFO/top_level.txt", "\n".join(PACKAGES).encode() + b"\n"),
        ("EGG-INFO/zip-safe", b"\n"),
    ]
    return Egg(version, _zip(metadata + code))
