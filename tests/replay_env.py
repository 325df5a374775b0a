"""pywb for the replay tests, in its own virtualenv (`.venv-replay`, `make replay-env`).

pywb pins pyOpenSSL below the version Scrapy runs with here and pulls in `brotlipy`, which
installs a `brotli` module over the Brotli package rotwatch decodes with: it cannot share
rotwatch's environment. Its versions are pinned in requirements-replay.txt.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV = REPO_ROOT / ".venv-replay"
REQUIREMENTS = REPO_ROOT / "requirements-replay.txt"


def replay_bin() -> Path:
    """The bin directory holding `wayback` and `wb-manager`, built once when missing."""
    marker = VENV / ".installed"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
        subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "-r", str(REQUIREMENTS)], check=True, timeout=900)
        marker.touch()
    return VENV / "bin"
