"""Seed extraction gives exactly what it gave before its speed-ups (URL caches, one pass
over the tree): every link and document field of every seed fixture, against a golden file.

Regenerate only for an intended change: `python -m tests.test_extract_golden`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from core.documents import SeedError
from crawler.extract.links import extract

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "fixtures" / "extract-golden.json"
SEEDS = sorted([*(ROOT / "tests" / "fixtures" / "seeds").iterdir(),
                *(ROOT / "tests" / "fixtures" / "extract-edge").iterdir(),
                *(ROOT / "seeds").iterdir()])


def extracted(path: Path) -> dict[str, Any]:
    try:
        seed = extract(path.read_bytes(), path.name)
    except SeedError as exc:
        return {"refused": str(exc)}
    return json.loads(json.dumps({"document": asdict(seed.document),
                                  "links": [asdict(link) for link in seed.links],
                                  "warnings": list(seed.warnings)}, default=str))


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_extraction_is_unchanged(path: Path) -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    # twice: a second run, served from the caches, must agree with the first
    assert extracted(path) == golden[path.name]
    assert extracted(path) == golden[path.name]


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps({p.name: extracted(p) for p in SEEDS}, indent=1,
                                 ensure_ascii=False) + "\n", encoding="utf-8")
