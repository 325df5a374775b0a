"""The import graph of rotwatch, read from the code (grimp): cycles and the layer diagram.

    python -m tests.scripts.import_graph          # print the Mermaid diagram for the docs

`tests/test_architecture.py` checks that the code has no import cycle and that
docs/architecture.md shows exactly the diagram printed here.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import grimp

ROOTS = ("core", "crawler", "archive", "scheduler", "rotwatch")
# The parts of the diagram, most specific first; every module belongs to one.
PARTS = ("crawler.extract", "crawler.fetch", "archive.store", "archive.warc",
         "core", "scheduler", "rotwatch")
LABELS = {
    "core": "core: pure domain",
    "crawler.extract": "crawler.extract: seeds and pages to text and links",
    "crawler.fetch": "crawler.fetch: the Scrapy adapter",
    "archive.store": "archive.store: SQLite store",
    "archive.warc": "archive.warc: WARC archive",
    "scheduler": "scheduler: the daemon",
    "rotwatch": "rotwatch: config, jobs, CLI",
}


def build() -> grimp.ImportGraph:
    return grimp.build_graph(*ROOTS, cache_dir=None)


def part_of(module: str) -> str:
    for part in PARTS:
        if module == part or module.startswith(part + "."):
            return part
    raise ValueError(f"{module} belongs to no part of the diagram")


def module_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = edges.get(node, [])
            if child < len(targets):
                work.append((node, child + 1))
                nxt = targets[child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, []):
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def part_edges(graph: grimp.ImportGraph) -> set[tuple[str, str]]:
    edges: dict[tuple[str, str], int] = defaultdict(int)
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = part_of(module), part_of(imported)
            if a != b:
                edges[(a, b)] += 1
    return set(edges)


def mermaid(graph: grimp.ImportGraph) -> str:
    ids = {part: part.replace(".", "_") for part in PARTS}
    lines = ["```mermaid", "flowchart TD"]
    for part in PARTS:
        lines.append(f'    {ids[part]}["{LABELS[part]}"]')
    for a, b in sorted(part_edges(graph)):
        lines.append(f"    {ids[a]} --> {ids[b]}")
    lines.append("```")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(mermaid(build()) + "\n")
