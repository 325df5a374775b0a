"""Where a crawl's results go: one background thread owns the store and the WARC writer.

The reactor thread never touches SQLite or WARC files. The crawl's item pipeline
(rotwatch.pipeline) hands exchanges and outcomes to a single worker thread (FIFO, so a
response is archived before its check is recorded); the worker batches them into
transactions and applies the recheck policy. With a local second vantage, a result that
could lead to "dead" is held instead, in the same transaction (rotwatch/cluster/held.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from archive.store import results, texts
from archive.store.checks import attempt_rows
from archive.store.db import write_transaction
from archive.store.pending import PendingSide
from archive.store.results import CheckRow, SnapshotRow, TargetUpdate
from archive.store.store import Store
from archive.store.texts import StoredCapture
from archive.warc.writer import SnapshotWriter, format_warc_date
from core.content_coding import is_text, media_type
from core.exchange import ArchivedRecord, Exchange
from core.policy import PastCheck, PolicyConfig
from core.records import Validators
from crawler.fetch.items import Outcome
from rotwatch.cluster.held import hold, is_held
from rotwatch.drift import MainText, compare, content_fingerprint
from rotwatch.lazy_text import SHORT_PAGE_CHARS, stored_payload
from rotwatch.main_text_worker import TextExtractor
from rotwatch.target_updates import target_update, validators_after

LOG = logging.getLogger(__name__)
_T = TypeVar("_T")
# The reactor hands the worker its jobs (archive a response, prepare a result) in groups
# of this many, or of this many body bytes: one hand-over per job cost the reactor a
# Future, a queue put and a thread wake-up for each response.
JOB_GROUP = 64
JOB_GROUP_BYTES = 4_000_000


@dataclass(frozen=True)
class _Capture:
    """One archived response of a target, as the WARC writer placed it."""

    record: ArchivedRecord
    url: str
    status: int
    warc_date: str
    mime: str | None


@dataclass(frozen=True)
class _Prepared:
    record: ArchivedRecord | None
    captures: tuple[_Capture, ...]  # every response of the target archived in this check
    mime: str | None
    earlier: tuple[str | None, str | None] | None = None  # title and text already stored
    text: Future[MainText] | None = None  # this capture's text, being extracted
    # The stored response whose text `text` is (a revisit's original), to keep it there.
    text_source: StoredCapture | None = None
    baseline: StoredCapture | None = None  # what this capture is compared with, if anything
    baseline_text: Future[MainText] | None = None  # the baseline's text, extracted late
    same: bool = False  # the baseline's payload, byte for byte: nothing to compare
    # A page's headline, kept as its title while its text is not extracted: what the
    # extraction would take as title (its first <h1>, else <title>).
    headline: str | None = None


def _done(main: MainText) -> Future[MainText]:
    future: Future[MainText] = Future()
    future.set_result(main)
    return future


class Recorder:
    """One crawl's writer: every public method returns at once, the worker does the rest."""

    def __init__(self, store_path: Path, warc_dir: Path | None, *, run_id: int | None,
                 policy: PolicyConfig, batch_size: int = 100,
                 warc_max_bytes: int = 1_000_000_000, hold_failures: bool = False,
                 archive_dir: Path | None = None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rotwatch-store")
        self._pending: list[tuple[Outcome, Future[_Prepared]]] = []
        # Jobs for the worker not handed over yet, in call order (FIFO is kept).
        self._jobs: list[Callable[[], None]] = []
        self._job_bytes = 0
        self._extractor = TextExtractor()
        self._futures: list[Future[None]] = []
        self.batch_size = batch_size
        self.policy = policy
        self.run_id = run_id
        # A second local vantage confirms possible failures: they are held, not recorded
        # (rotwatch/cluster/held.py), and count in `recorded` (they are in the store).
        self.hold_failures = hold_failures and run_id is not None
        self.recorded = 0
        self.error: BaseException | None = None
        self._store: Store | None = None
        self._warc: SnapshotWriter | None = None
        # target id -> its responses archived so far in this check (worker thread only)
        self._captures: dict[int, list[_Capture]] = {}
        # Where earlier captures are read back from when their text is needed: the WARC
        # directory, also when this crawl writes no snapshots (baselines may exist).
        self._archive_dir = archive_dir or warc_dir
        # snapshot id -> its text being extracted late, until written back (worker thread)
        self._late: dict[int, Future[MainText] | None] = {}
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

    def add(self, outcome: Outcome) -> None:
        # The body goes to the worker with the next group of jobs (text extraction, drift)
        # and is not kept here, so a batch never holds more than one body per outcome.
        row = self._later(len(outcome.body or b""), self._prepare, outcome)
        self._pending.append((replace(outcome, body=None), row))
        if len(self._pending) >= self.batch_size:
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
            batch, self._pending = self._pending, []
            self._futures.append(self._executor.submit(self._record, batch))
            self._futures = [f for f in self._futures if not f.done()]

    def close(self) -> None:
        """Flush, wait for every write, close the WARC (renaming it) and the store."""
        self.flush()
        for future in self._futures:
            try:
                future.result()
            except BaseException as exc:  # already logged in the worker
                self.error = self.error or exc
        self._executor.submit(self._close).result()
        self._executor.shutdown(wait=True)

    # ---- the worker thread -------------------------------------------------------------
    def _write_warc(self, exchange: Exchange, target_id: int) -> ArchivedRecord | None:
        assert self._warc is not None
        try:
            record = self._warc.write(exchange)
            content_type = next((v for k, v in exchange.response_headers
                                 if k.lower() == "content-type"), None)
            self._captures.setdefault(target_id, []).append(_Capture(
                record, exchange.url, exchange.status, format_warc_date(exchange.fetched_at),
                media_type(content_type) or None))
            return record
        except OSError as exc:  # a full disk must not lose the check itself
            LOG.error("cannot write WARC record for %s: %s", exchange.url, exc)
            self.error = self.error or OSError(
                f"cannot write WARC snapshots in {self._warc.directory} ({exc}; the disk may "
                "be full): checks are still recorded, without snapshots")
            return None

    def _prepare(self, outcome: Outcome) -> _Prepared:
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
            return _Prepared(record, captures, mime)  # no main text to speak of
        headline = (obs.heading or obs.title) if page else None
        # A revisit (byte-identical to a page already archived, or a 304 confirming it)
        # reuses its original's text when that was extracted.
        earlier = results.text_for_digest(db, digest) if revisit and digest else None
        # A page this short has no boilerplate to strip: its visible text (read by the
        # spider already) is its main text, kept at once since it costs nothing.
        short = (_done(MainText(obs.title or "", obs.text, "visible-text"))
                 if page and len(obs.text) < SHORT_PAGE_CHARS else None)
        base = texts.baseline_capture(db, outcome.target_id)
        if base is None or not base.comparable:
            # Nothing to compare with yet (this capture may become the baseline): the
            # text waits until a later capture differs from it.
            return _Prepared(record, captures, mime, earlier, short, headline=headline)
        if digest == base.digest:
            # The baseline's own payload: the same text, whatever it is.
            return _Prepared(record, captures, mime, earlier or (base.title, base.text),
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
            text = self._extractor.submit(outcome.body, obs.final_url, outcome.encoding)
        return _Prepared(record, captures, mime, earlier, text, source, base,
                         None if base.text else self._extract_later(base), headline=headline)

    def _extract_later(self, capture: StoredCapture) -> Future[MainText] | None:
        """Start extracting a stored capture's text from its WARC record (once per crawl)."""
        if capture.snapshot_id not in self._late:
            future = None
            if self._archive_dir is not None:
                try:
                    body, encoding = stored_payload(self._archive_dir, capture)
                    future = self._extractor.submit(body, capture.url, encoding)
                except (OSError, ValueError) as exc:  # the comparison is skipped, not the check
                    LOG.warning("cannot read the capture of %s to extract its text: %s",
                                capture.url, exc)
            self._late[capture.snapshot_id] = future
        return self._late[capture.snapshot_id]

    def _record(self, pending: list[tuple[Outcome, Future[_Prepared]]]) -> None:
        assert self._store is not None
        db = self._store.db
        batch = [outcome for outcome, _ in pending]
        try:
            # prepared: done already (same FIFO worker); extraction may still be running
            ready = [(outcome, prepared.result()) for outcome, prepared in pending]
            late = self._late_texts([p for _, p in ready])
            rows = [self._row(outcome, prepared, late) for outcome, prepared in ready]
            validators = {o.target_id: next_validators(o, p.record) for o, p in ready}
            holding = [self.hold_failures and is_held(o) for o in batch]
            held = [(o, row) for o, row, h in zip(batch, rows, holding, strict=True) if h]
            rows = [row for row, h in zip(rows, holding, strict=True) if not h]
            batch = [o for o, h in zip(batch, holding, strict=True) if not h]

            def work() -> None:
                for capture, main in late.values():
                    texts.store_text(db, capture, main.text)
                if held:
                    assert self.run_id is not None
                    hold(PendingSide(db), self.run_id, held, datetime.now(UTC))
                snapshot_ids = results.insert_checks(db, rows, self.run_id)
                first_snapshot = {row.target_id: sid for row, sid in zip(rows, snapshot_ids,
                                                                          strict=True) if sid}
                histories = results.histories(db, {o.target_id for o in batch})
                updates = [self._update(o, histories[o.target_id],
                                        first_snapshot.get(o.target_id),
                                        validators[o.target_id]) for o in batch]
                results.update_targets(db, list({u.target_id: u for u in updates}.values()))

            write_transaction(db, work)
            for snapshot_id in late:  # in the store now: later checks read it from there
                self._late.pop(snapshot_id, None)
            self.recorded += len(pending)  # held checks too: they are in the store
        except BaseException as exc:
            LOG.error("cannot record %d checks: %s", len(pending), exc)
            self.error = self.error or exc
            raise

    def _late_texts(self, prepared: list[_Prepared]
                    ) -> dict[int, tuple[StoredCapture, MainText]]:
        """Texts of stored captures extracted for this batch, by snapshot id."""
        found: dict[int, tuple[StoredCapture, MainText]] = {}
        for p in prepared:
            for capture, future in ((p.baseline, p.baseline_text), (p.text_source, p.text)):
                if capture is not None and future is not None:
                    main = _result(future, capture.url)
                    if main is not None:
                        found[capture.snapshot_id] = (capture, main)
        return found

    def _row(self, outcome: Outcome, prepared: _Prepared,
             late: dict[int, tuple[StoredCapture, MainText]]) -> CheckRow:
        obs, record, earlier = outcome.observation, prepared.record, prepared.earlier
        title, text = prepared.headline or obs.title, None
        content_hash = similarity = drifted = None
        if earlier is not None:
            title, text = earlier[0] or obs.title, earlier[1]
        elif prepared.text is not None:
            main = _result(prepared.text, obs.final_url)
            if main is not None:
                title, text = main.title or obs.title, main.text
        base, base_text = prepared.baseline, None
        if base is not None:
            base_text = base.text or (late[base.snapshot_id][1].text
                                      if base.snapshot_id in late else None)
        if prepared.same:
            similarity, drifted = 1.0, False  # the baseline's payload: nothing to compare
        if text:
            content_hash = content_fingerprint(text)
            if base_text and not prepared.same:
                if base_text == text:
                    similarity, drifted = 1.0, False  # the baseline itself
                else:
                    result = compare(base_text, text)
                    similarity, drifted = result.similarity, result.drifted
        mime = prepared.mime
        snapshot = None
        own = next((c for c in prepared.captures if c.record == record), None)
        if record is not None:
            snapshot = SnapshotRow(
                fetched_at=outcome.checked_at, url=obs.final_url, warc_file=record.warc_file,
                warc_offset=record.offset, warc_length=record.length,
                payload_digest=record.payload_digest, record_type=record.record_type,
                mime=mime, title=title, truncated=record.truncated,
                # a revisit's text is its original's: stored once, not per visit
                text=None if record.record_type == "revisit" else text,
                status=own.status if own else obs.status,
                warc_date=own.warc_date if own else None)
        attempts = attempt_rows(outcome.checked_at, prepared.captures, record)
        return CheckRow(outcome.target_id, outcome.checked_at, obs, outcome.judgement,
                        content_hash, similarity, drifted, snapshot, attempts)

    def _update(self, outcome: Outcome, history: list[PastCheck],
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
    for job in jobs:
        job()


def _result(future: Future[MainText], url: str) -> MainText | None:
    try:
        return future.result()
    except Exception as exc:  # a page that defeats extraction keeps its check
        LOG.warning("no main text for %s: %s", url, exc)
        return None


def next_validators(outcome: Outcome, record: ArchivedRecord | None) -> Validators | None:
    """What the next recheck of this target sends (rotwatch.target_updates)."""
    return validators_after(outcome.observation, outcome.judgement, outcome.validators, record)
