"""Where a crawl's results go: one background thread owns the store and the WARC writer.

The reactor thread never touches SQLite or WARC files. The crawl's item pipeline
(rotwatch.pipeline) hands exchanges and outcomes to a single worker thread (FIFO, so a
response is archived before its check is recorded); the worker batches them into
transactions and applies the recheck policy. With a local second vantage, a result that
could lead to "dead" is held instead, in the same transaction (rotwatch/cluster/held.py).

A batch whose rows wait for main texts (drift) waits in `_waiting`, in order, while the
worker goes on archiving and preparing: blocking it there queued every later response's
body behind the extraction worker (hundreds of MB when thousands of pages change at once).
Pages queued for extraction are references to their WARC records (rotwatch/lazy_text.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from archive.store import results, texts
from archive.store.db import write_transaction
from archive.store.pending import PendingSide
from archive.store.results import TargetUpdate
from archive.store.store import Store
from archive.store.texts import StoredCapture
from archive.warc.writer import SnapshotWriter, format_warc_date
from core.content_coding import is_text, media_type
from core.exchange import ArchivedRecord, Exchange
from core.policy import PastCheck, PolicyConfig, Summary
from core.records import Validators
from crawler.fetch.items import Outcome
from rotwatch.cluster.held import hold, is_held
from rotwatch.drift import MainText, content_fingerprint
from rotwatch.lazy_text import SHORT_PAGE_CHARS, stored_ref
from rotwatch.main_text_worker import TextExtractor
from rotwatch.page_refs import PageRef
from rotwatch.prepared import Capture, Prepared, check_row, done, late_texts
from rotwatch.target_updates import judged_histories, target_update, validators_after

LOG = logging.getLogger(__name__)
_T = TypeVar("_T")
# The reactor hands the worker its jobs (archive a response, prepare a result) in groups
# of this many, or of this many body bytes: one hand-over per job cost the reactor a
# Future, a queue put and a thread wake-up for each response.
JOB_GROUP = 64
JOB_GROUP_BYTES = 4_000_000


class Recorder:
    """One crawl's writer: every public method returns at once, the worker does the rest."""

    def __init__(self, store_path: Path, warc_dir: Path | None, *, run_id: int | None,
                 policy: PolicyConfig, batch_size: int = 100,
                 warc_max_bytes: int = 1_000_000_000, hold_failures: bool = False,
                 archive_dir: Path | None = None,
                 extractor: TextExtractor | None = None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rotwatch-store")
        self._pending: list[tuple[Outcome, Future[Prepared]]] = []
        self._pending_bytes = 0  # bodies and page texts the pending outcomes hold
        # Jobs for the worker not handed over yet, in call order (FIFO is kept).
        self._jobs: list[Callable[[], None]] = []
        self._job_bytes = 0
        self._extractor = extractor or TextExtractor()
        self._futures: list[Future[None]] = []
        self.batch_size = batch_size
        self.policy = policy
        self.run_id = run_id
        # A second local vantage confirms possible failures: they are held, not recorded
        # (rotwatch/cluster/held.py), and count in `recorded` (they are in the store).
        self.hold_failures = hold_failures and run_id is not None
        self.recorded = 0
        # Checks handed to add(), and those recorded or given up on: `backlog` is what the
        # crawl holds new targets back for (crawler.fetch.backlog).
        self.added = 0
        self._settled = 0
        self.error: BaseException | None = None
        self._store: Store | None = None
        self._warc: SnapshotWriter | None = None
        # target id -> its responses archived so far in this check (worker thread only)
        self._captures: dict[int, list[Capture]] = {}
        # Where earlier captures are read back from when their text is needed: the WARC
        # directory, also when this crawl writes no snapshots (baselines may exist).
        self._archive_dir = archive_dir or warc_dir
        # snapshot id -> its text being extracted late, until written back (worker thread)
        self._late: dict[int, Future[MainText] | None] = {}
        # Batches waiting for their texts, recorded in order (worker thread); the text
        # the first one waits for wakes the worker when it is extracted.
        self._waiting: deque[list[tuple[Outcome, Future[Prepared]]]] = deque()
        self._armed: Future[MainText] | None = None
        self._closing = False
        self._executor.submit(self._open, store_path, warc_dir, warc_max_bytes).result()

    def _open(self, store_path: Path, warc_dir: Path | None, warc_max_bytes: int) -> None:
        self._store = Store(store_path)
        if warc_dir is not None:
            db = self._store.db
            # Each file is indexed for lookups by URL and time (`show`) when it is final.
            self._warc = SnapshotWriter(
                warc_dir, max_file_bytes=warc_max_bytes, index=True,
                lookup_digest=lambda digest: results.find_digest(db, digest))

    # ---- called from the reactor thread ------------------------------------------------
    @property
    def archiving(self) -> bool:
        return self._warc is not None

    def archive(self, exchange: Exchange, target_id: int
                ) -> Future[ArchivedRecord | None] | None:
        if self._warc is None:
            return None
        return self._later(len(exchange.body), self._write_warc, exchange, target_id)

    @property
    def backlog(self) -> int:
        """Checks handed over and not recorded yet (read from the reactor thread; an int
        the worker replaces whole)."""
        return self.added - self._settled

    def add(self, outcome: Outcome) -> None:
        self.added += 1
        size = len(outcome.body or b"")
        row = self._later(size, self._prepare, outcome)
        # Kept whole until its batch is recorded: a batch that must wait for its drift
        # texts drops its bodies and page texts then (`_lean`). Copying every outcome
        # without them here cost the reactor two dataclass copies per check, for batches
        # that mostly never wait. Bodies and texts held bound the batch as jobs are bound.
        self._pending.append((outcome, row))
        self._pending_bytes += size + len(outcome.observation.text)
        if len(self._pending) >= self.batch_size or self._pending_bytes >= JOB_GROUP_BYTES:
            self.flush()

    def _later(self, size: int, work: Callable[..., _T], *args: Any) -> Future[_T]:
        """Queue `work(*args)` for the worker; its result arrives in the returned Future."""
        future: Future[_T] = Future()

        def job() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(work(*args))
                except BaseException as exc:  # kept for whoever reads the result
                    future.set_exception(exc)

        self._jobs.append(job)
        self._job_bytes += size
        if len(self._jobs) >= JOB_GROUP or self._job_bytes >= JOB_GROUP_BYTES:
            self._hand_over()
        return future

    def _hand_over(self) -> None:
        if self._jobs:
            jobs, self._jobs, self._job_bytes = self._jobs, [], 0
            self._executor.submit(_run_all, jobs)

    def flush(self) -> None:
        self._hand_over()  # the batch's jobs go first: recording waits for their results
        if self._pending:
            batch, self._pending, self._pending_bytes = self._pending, [], 0
            self._futures.append(self._executor.submit(self._enqueue, batch))
            self._futures = [f for f in self._futures if not f.done()]

    def close(self) -> None:
        """Flush, wait for every write (and text), close the WARC (renaming it), the store."""
        self.flush()
        for future in self._futures:
            try:
                future.result()
            except BaseException as exc:  # already logged in the worker
                self.error = self.error or exc
        self._executor.submit(self._drain, True).result()
        self._closing = True
        self._executor.submit(self._close).result()
        self._executor.shutdown(wait=True)

    # ---- the worker thread -------------------------------------------------------------
    def _write_warc(self, exchange: Exchange, target_id: int) -> ArchivedRecord | None:
        assert self._warc is not None
        try:
            record = self._warc.write(exchange)
            content_type = next((v for k, v in exchange.response_headers
                                 if k.lower() == "content-type"), None)
            self._captures.setdefault(target_id, []).append(Capture(
                record, exchange.url, exchange.status, format_warc_date(exchange.fetched_at),
                media_type(content_type) or None))
            return record
        except OSError as exc:  # a full disk must not lose the check itself
            LOG.error("cannot write WARC record for %s: %s", exchange.url, exc)
            self.error = self.error or OSError(
                f"cannot write WARC snapshots in {self._warc.directory} ({exc}; the disk may "
                "be full): checks are still recorded, without snapshots")
            return None

    def _prepare(self, outcome: Outcome) -> Prepared:
        """Look up what the store knows, and start the text extraction (another process)
        only if a comparison needs it (rotwatch/lazy_text.py)."""
        assert self._store is not None
        db = self._store.db
        obs = outcome.observation
        record = outcome.warc.result() if outcome.warc is not None else None
        # The worker is FIFO: every response of this target was archived before this runs.
        captures = tuple(self._captures.pop(outcome.target_id, ()))
        mime = media_type(obs.content_type) or None
        digest = record.payload_digest if record is not None else None
        revisit = record is not None and record.record_type == "revisit"
        page = (outcome.body is not None and is_text(obs.content_type)
                and 200 <= (obs.status or 0) < 300)
        if not (page or revisit):
            return Prepared(record, captures, mime)  # no main text to speak of
        headline = (obs.heading or obs.title) if page else None
        if revisit and digest:
            # The baseline's own payload again (a 304 confirming the capture its
            # validators came from, mostly): nothing to compare, and its text's hash is
            # stored with the text (read and hashed only for rows stored without it).
            same = texts.same_payload(db, outcome.target_id, digest)
            if same is not None:
                text_hash = same.text_hash or (
                    content_fingerprint(same.text) if same.text else None)
                return Prepared(record, captures, mime, (same.title, None), same=True,
                                headline=headline, hashed=True, content_hash=text_hash)
        # A revisit (byte-identical to a page already archived, or a 304 confirming it)
        # reuses its original's text when that was extracted.
        earlier = results.text_for_digest(db, digest) if revisit and digest else None
        # A page this short has no boilerplate to strip: its visible text (read by the
        # spider already) is its main text, kept at once since it costs nothing.
        short = (done(MainText(obs.title or "", obs.text, "visible-text"))
                 if page and len(obs.text) < SHORT_PAGE_CHARS else None)
        base = texts.baseline_capture(db, outcome.target_id)
        if base is None or not base.comparable:
            # Nothing to compare with yet (this capture may become the baseline): the
            # text waits until a later capture differs from it.
            return Prepared(record, captures, mime, earlier, short, headline=headline)
        if digest == base.digest:
            # The baseline's own payload: the same text, whatever it is.
            return Prepared(record, captures, mime, earlier or (base.title, base.text),
                             baseline=base, same=True, headline=headline)
        text, source = short, None
        if earlier is None and revisit and digest:
            # The original's text, as its own headers decode it; an original not in the
            # store yet (archived earlier in this batch) leaves the body to extract.
            found = texts.response_capture(db, digest)
            source = found if found is not None and found.pending else None
        if source is not None:
            text = self._extract_later(source)
        elif earlier is None and text is None and outcome.body is not None:
            text = self._extract_page(outcome, record)
        return Prepared(record, captures, mime, earlier, text, source, base,
                         None if base.text else self._extract_later(base), headline=headline)

    def _extract_page(self, outcome: Outcome, record: ArchivedRecord | None
                      ) -> Future[MainText]:
        """Start extracting this check's page: from the response record just written
        (the file is written unbuffered, so the worker process can read it back at once);
        from the body in hand only when the page has no record of its own (snapshots off,
        a WARC write that failed, a revisit of a response this crawl has not recorded)."""
        body = outcome.body
        assert body is not None
        url = outcome.observation.final_url
        if self._warc is not None and record is not None and record.record_type == "response":
            return self._extractor.submit_ref(PageRef(
                self._warc.directory, record.warc_file, record.offset, url, len(body),
                outcome.encoding, exact=True))
        return self._extractor.submit(body, url, outcome.encoding)

    def _extract_later(self, capture: StoredCapture) -> Future[MainText] | None:
        """Start extracting a stored capture's text, which the extraction worker reads
        back from its WARC record (once per crawl; the comparison is skipped if the record
        cannot be read)."""
        if capture.snapshot_id not in self._late:
            self._late[capture.snapshot_id] = None if self._archive_dir is None else \
                self._extractor.submit_ref(stored_ref(self._archive_dir, capture))
        return self._late[capture.snapshot_id]

    def _enqueue(self, pending: list[tuple[Outcome, Future[Prepared]]]) -> None:
        self._waiting.append(pending)
        self._drain()
        if self._waiting and self._waiting[-1] is pending:
            # It waits (for how long is up to the extraction worker): without the bodies
            # and page texts, which its rows do not record (read for the verdict, the
            # soft-404 rule and short pages' text by now).
            pending[:] = [(self._lean(outcome), row) for outcome, row in pending]

    def _lean(self, outcome: Outcome) -> Outcome:
        """The outcome without its body and page text; a held check keeps its text: its
        observation is stored whole for its confirmation. (A 304 has neither.)"""
        if outcome.observation.text and not (self.hold_failures and is_held(outcome)):
            return replace(outcome, body=None,
                           observation=replace(outcome.observation, text=""))
        return outcome if outcome.body is None else replace(outcome, body=None)

    def _drain(self, wait: bool = False) -> None:
        """Record the waiting batches, in order, as far as their texts are extracted (all
        of them with `wait`). The worker never blocks on a text otherwise."""
        while self._waiting:
            head = self._waiting[0]
            busy = None if wait else next(
                (f for f in _extractions(head) if not f.done()), None)
            if busy is not None:
                if busy is not self._armed:
                    self._armed = busy
                    busy.add_done_callback(self._wake)
                return
            self._waiting.popleft()
            try:
                with contextlib.suppress(Exception):  # logged, and kept in self.error
                    self._record(head)
            finally:
                self._settled += len(head)

    def _wake(self, _: Future[MainText]) -> None:
        """A text was extracted (called in the extraction pool's thread)."""
        if not self._closing:
            with contextlib.suppress(RuntimeError):  # the worker is shut down already
                self._executor.submit(self._drain)

    def _record(self, pending: list[tuple[Outcome, Future[Prepared]]]) -> None:
        assert self._store is not None
        db = self._store.db
        batch = [outcome for outcome, _ in pending]
        try:
            # prepared: done already (same FIFO worker); extraction may still be running
            ready = [(outcome, prepared.result()) for outcome, prepared in pending]
            late = late_texts([p for _, p in ready])
            rows = [check_row(outcome, prepared, late) for outcome, prepared in ready]
            validators = {o.target_id: next_validators(o, p.record) for o, p in ready}
            holding = [self.hold_failures and is_held(o) for o in batch]
            held = [(o, row) for o, row, h in zip(batch, rows, holding, strict=True) if h]
            rows = [row for row, h in zip(rows, holding, strict=True) if not h]
            batch = [o for o, h in zip(batch, holding, strict=True) if not h]

            def work() -> None:
                for capture, main in late.values():
                    texts.store_text(db, capture, main.text, content_fingerprint(main.text)
                                     if main.text else None)
                if held:
                    assert self.run_id is not None
                    hold(PendingSide(db), self.run_id, held, datetime.now(UTC))
                # Each target row is written once: its check summary with its state.
                snapshot_ids = results.insert_checks(db, rows, self.run_id, note=False)
                first_snapshot = {row.target_id: sid for row, sid in zip(rows, snapshot_ids,
                                                                          strict=True) if sid}
                judged = judged_histories(db, rows, self.policy)
                updates = [self._update(o, judged[o.target_id],
                                        first_snapshot.get(o.target_id),
                                        validators[o.target_id]) for o in batch]
                results.update_targets(db, list({u.target_id: u for u in updates}.values()),
                                       results.check_notes(rows, snapshot_ids))

            write_transaction(db, work)
            for snapshot_id in late:  # in the store now: later checks read it from there
                self._late.pop(snapshot_id, None)
            self.recorded += len(pending)  # held checks too: they are in the store
        except BaseException as exc:
            LOG.error("cannot record %d checks: %s", len(pending), exc)
            self.error = self.error or exc
            raise

    def _update(self, outcome: Outcome, history: list[PastCheck] | Summary,
                snapshot_id: int | None, validators: Validators | None) -> TargetUpdate:
        return target_update(outcome.target_id, outcome.key, outcome.host,
                             outcome.judgement.verdict, outcome.checked_at, history,
                             self.policy, snapshot_id=snapshot_id, validators=validators)

    def _close(self) -> None:
        self._extractor.close()
        if self._warc is not None:
            self._warc.close()
        if self._store is not None:
            self._store.close()


def _run_all(jobs: list[Callable[[], None]]) -> None:
    jobs.reverse()
    while jobs:  # each job (and the body it holds) goes as soon as it has run
        jobs.pop()()


def _extractions(pending: list[tuple[Outcome, Future[Prepared]]]
                 ) -> list[Future[MainText]]:
    """The texts a batch's rows wait for (a preparation that failed waits for none)."""
    return [text for _, prepared in pending
            if prepared.done() and prepared.exception() is None
            for text in prepared.result().extractions()]


def next_validators(outcome: Outcome, record: ArchivedRecord | None) -> Validators | None:
    """What the next recheck of this target sends (rotwatch.target_updates)."""
    return validators_after(outcome.observation, outcome.judgement, outcome.validators, record)
