"""The code keeps one direction of dependencies, and the docs show it as it is.

The layers are import-linter contracts in pyproject.toml: the application (rotwatch) on
top, the daemon (scheduler), the adapters beside each other (crawler.extract,
crawler.fetch, archive.store, archive.warc), the pure domain (core) at the bottom, and no
I/O module imported by the domain. Import-linter does not look for cycles inside one
package, so a graph of every module, imports inside functions included, is checked for
cycles here too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.scripts.import_graph import build, mermaid, module_cycles

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_import_cycle_between_modules() -> None:
    assert module_cycles(build()) == []


def test_the_cycle_finder_finds_cycles() -> None:
    # The check above can only fail if the finder sees a cycle when there is one.
    class Graph:
        def __init__(self) -> None:
            self.edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
            self.modules = set(self.edges)

        def find_modules_directly_imported_by(self, module: str) -> set[str]:
            return self.edges[module]

    assert module_cycles(Graph()) == [["a", "b", "c"]]  # type: ignore[arg-type]


def test_architecture_doc_shows_the_graph_of_the_code() -> None:
    doc = (REPO_ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    diagram = mermaid(build())
    assert diagram in doc, (
        "docs/architecture.md does not show the import graph of the code; regenerate it "
        "with `python -m tests.scripts.import_graph` and paste it in:\n" + diagram)
