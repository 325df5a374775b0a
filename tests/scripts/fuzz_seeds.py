"""Coverage-guided fuzzing (atheris) of seed parsing: decode, detect the format, extract.

    .venv/bin/python -m tests.scripts.fuzz_seeds [-max_total_time=60] [other libFuzzer flags]

Runs the fuzzer in a child process for at most max_total_time seconds (default 60), then
prints what it found: runs, coverage and features, and every crash (an exception other
than SeedError, or a stored link that could not be requested) or slow input (over
-timeout, default 10 s), with the file that reproduces it. Exit status 1 if it found any.
The corpus starts from the seed fixtures and grows in a temporary directory (or the one
given with --corpus DIR, to resume).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_STARTING_SEEDS = [*sorted((ROOT / "tests" / "fixtures" / "seeds").iterdir()),
                   *sorted((ROOT / "seeds").glob("*"))]
_DEFAULTS = {"-max_total_time": "60", "-timeout": "10", "-rss_limit_mb": "2048",
             "-max_len": "65536", "-print_final_stats": "1"}
_PATHS = ("seed.txt", "seed.html", "seed.md", "seed")


def _child() -> None:
    """Inside the fuzzer: the code under test is instrumented as it is imported."""
    import atheris

    with atheris.instrument_imports(include=["crawler", "markdown_it", "linkify_it"]):
        from core.documents import SeedError
        from core.urls import normalise_key
        from crawler.extract.links import extract

    def one_input(data: bytes) -> None:
        if not data:
            return
        path = _PATHS[data[0] % len(_PATHS)]
        try:
            result = extract(data[1:], path)
        except SeedError:
            return
        for link in result.links:
            if link.checkable:
                bad = [ch for ch in link.url if not "\x21" <= ch <= "\x7e"]
                if bad or not link.host or not link.url.startswith(("http://", "https://")):
                    raise AssertionError(f"checkable link that cannot be requested: {link!r}")
                normalise_key(link.url)

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


def main(argv: list[str]) -> int:
    corpus_arg = None
    if "--corpus" in argv:
        at = argv.index("--corpus")
        corpus_arg = Path(argv[at + 1])
        argv = argv[:at] + argv[at + 2:]
    flags = dict(_DEFAULTS)
    for arg in argv:
        name, _, value = arg.partition("=")
        flags[name] = value
    work = Path(tempfile.mkdtemp(prefix="rotwatch-fuzz-"))
    corpus = corpus_arg or work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(_STARTING_SEEDS):
        if seed.is_file():  # first byte picks the file name the seed is parsed under
            (corpus / f"start-{number}").write_bytes(bytes([number % len(_PATHS)])
                                                     + seed.read_bytes()[:65535])
    artifacts = work / "artifacts"
    artifacts.mkdir()
    command = [sys.executable, "-m", "tests.scripts.fuzz_seeds", "--child",
               *(f"{name}={value}" for name, value in flags.items()),
               f"-artifact_prefix={artifacts}/", str(corpus)]
    limit = float(flags["-max_total_time"]) + 120  # the fuzzer stops itself; this is a backstop
    print("$", " ".join(command[1:]), flush=True)
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=limit,
                              check=False)
        log = done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:  # its output may come back as bytes here
        log = "".join(part.decode(errors="replace") if isinstance(part, bytes) else part or ""
                      for part in (exc.stdout, exc.stderr))
        log += f"\nfuzzer did not stop within {limit:.0f} s"
    return _report(log, artifacts, corpus)


def _report(log: str, artifacts: Path, corpus: Path) -> int:
    stats = {key: value for key, value in re.findall(r"^stat::(\w+):\s*(\d+)", log, re.M)}
    last = [line for line in log.splitlines() if re.match(r"#\d+\s", line)]
    done = re.search(r"Done (\d+) runs in (\d+) second", log)
    print(last[-1] if last else "(no progress line)")
    if done:
        print(f"runs: {done[1]} in {done[2]} s")
    for key in ("number_of_executed_units", "average_exec_per_sec", "new_units_added",
                "peak_rss_mb"):
        if key in stats:
            print(f"{key}: {stats[key]}")
    print(f"corpus: {sum(1 for _ in corpus.iterdir())} inputs in {corpus}")
    found = sorted(p for p in artifacts.iterdir() if p.is_file())
    for artifact in found:
        print(f"FOUND {artifact.name.split('-')[0]}: {artifact} ({artifact.stat().st_size} bytes)")
    lines = log.splitlines()
    starts = [i for i, line in enumerate(lines) if "Uncaught Python exception" in line]
    for start in starts[:1]:  # the traceback, up to libFuzzer's own lines
        end = next((i for i in range(start + 1, len(lines))
                    if lines[i].startswith(("INFO:", "==", "MS:", "artifact_prefix"))), len(lines))
        print("\n".join(lines[start:end]).strip()[:4000])
    if "fuzzer did not stop" in log:
        print(log.splitlines()[-1])
    if not found:
        print("no crashes, no timeouts")
        shutil.rmtree(artifacts, ignore_errors=True)
    return 1 if found or "fuzzer did not stop" in log else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.argv = [sys.argv[0], *sys.argv[2:]]
        _child()
    else:
        sys.exit(main(sys.argv[1:]))
