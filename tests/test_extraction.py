"""Main-text extraction in a worker process, and what happens when that worker dies."""

from __future__ import annotations

import os
import signal

from rotwatch.main_text_worker import TextExtractor

PAGE = ("<html><head><title>Floods</title></head><body><nav>Home News</nav><article>"
        "<h1>River breaks its banks</h1>"
        + "".join(f"<p>Paragraph {i}: the river rose overnight and the town council opened "
                  f"shelters for residents of the lower streets near the old bridge.</p>"
                  for i in range(8))
        + "</article><footer>Contact us</footer></body></html>").encode()


def test_extraction_runs_in_another_process_and_survives_its_death() -> None:
    extractor = TextExtractor()
    try:
        first = extractor.submit(PAGE, "http://example.org/a", "utf-8").result(timeout=120)
        assert "the river rose overnight" in first.text
        assert "Contact us" not in first.text
        pool = extractor._pool
        assert pool is not None
        workers = list(pool._processes.values())  # the spawned worker(s)
        assert workers and all(w.pid != os.getpid() for w in workers)
        for worker in workers:
            os.kill(worker.pid, signal.SIGKILL)
            worker.join(timeout=30)
        # The pool is now broken: a submission must still produce the text (in-process).
        results = []
        for _ in range(3):
            future = extractor.submit(PAGE, "http://example.org/a", "utf-8")
            try:
                results.append(future.result(timeout=60))
            except Exception:
                continue  # submitted just before the pool noticed the death
        assert results and "the river rose overnight" in results[-1].text
    finally:
        extractor.close()
