"""The import: read, parse and check the file in chunks (in a second thread on PostgreSQL, before the transaction
on SQLite), store each chunk, evaluate, and commit once — or store nothing."""

from __future__ import annotations

import pickle
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from queue import Full, Queue
from typing import IO

from django.db import IntegrityError, connection, transaction

from leads.importing.base import (
    CHUNK_ROWS,
    BeforeCommit,
    ImportFileError,
    ImportResult,
    ProgressCallback,
    Record,
    StoredCallback,
)
from leads.importing.mapping import guess_mapping
from leads.importing.parsing import RowParser
from leads.importing.reading import RawRow, inspect_file, iter_rows
from leads.importing.storing import OrmStore, PostgresStore, SqliteStore, Store
from leads.models import LeadSource
from leads.services import icp_attribute_keys


def _chunks(rows: Iterator[RawRow], parser: RowParser, result: ImportResult, size: int) -> Iterator[list[Record]]:
    """Accepted records in chunks, repeats within a chunk merged (later non-blank cells win)."""
    seen: set[str] = set()
    chunk: dict[str, Record] = {}
    for raw in rows:
        result.rows += 1
        record, errors = parser.parse(raw)
        if errors:
            result.rejected += 1
            result.errors.extend(errors)
            continue
        earlier = chunk.get(record.key)
        if earlier is not None:
            earlier.values.update(record.values)
            earlier.attributes.update(record.attributes)
            if record.values.get("do_not_contact") is False and earlier.values.get("do_not_contact"):
                earlier.values["do_not_contact"] = True  # never cleared
            result.duplicates += 1
            continue
        if record.key in seen:  # stored by an earlier chunk of this file: an update, counted as a duplicate
            record.repeat = True
            result.duplicates += 1
        seen.add(record.key)
        chunk[record.key] = record
        if len(chunk) >= size:
            yield list(chunk.values())
            chunk = {}
    if chunk:
        yield list(chunk.values())


def _prefetched(iterator: Iterator[list[Record]], timings: dict[str, float]) -> Iterator[list[Record]]:
    """Parse the next chunk in a thread while the database stores this one (psycopg waits without the GIL).
    The thread's CPU time goes into `timings["parser_cpu"]`, the time the database side waited for it into
    `timings["wait_for_parser"]`."""
    queue: Queue = Queue(maxsize=2)
    done, stop = object(), threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.2)
                return True
            except Full:
                continue
        return False

    def produce():
        started = time.thread_time()
        try:
            for item in iterator:
                if not put(item):
                    return  # the consumer gave up (the import failed)
            timings["parser_cpu"] = time.thread_time() - started
            put(done)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)

    thread = threading.Thread(target=produce, name="csv-import-parser", daemon=True)
    thread.start()
    waited = 0.0
    try:
        while True:
            started = time.perf_counter()
            item = queue.get()
            waited += time.perf_counter() - started
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
        timings["wait_for_parser"] = waited
    finally:
        stop.set()
        thread.join(timeout=5)


def import_file(
    f: IO[bytes],
    *,
    source: LeadSource,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    label: str = "",
    actor=None,
    progress: ProgressCallback | None = None,
    chunk_rows: int = CHUNK_ROWS,
    before_commit: BeforeCommit | None = None,
    on_stored: StoredCallback | None = None,
) -> ImportResult:
    """Import a CSV of leads into `source`. ImportFileError (nothing stored) when the file as a whole is
    unusable; otherwise every row is stored or reported in `result.errors`. One transaction; `before_commit`
    runs inside it with the result, `on_stored` after each chunk (an exception in either stores nothing)."""
    csv_file = inspect_file(f)
    if mapping is None:
        mapping = guess_mapping(csv_file.headers, icp_attribute_keys(source))
    parser = RowParser(csv_file, mapping)
    result = ImportResult(
        dry_run=dry_run, encoding=csv_file.encoding, delimiter=csv_file.delimiter, mapping=parser.mapping
    )
    label = label or "CSV import"
    actor_label = "" if actor is not None else f"import:{source.slug}"
    store_class = {"postgresql": PostgresStore, "sqlite": SqliteStore}.get(connection.vendor, OrmStore)
    try:
        _run(
            f, csv_file, parser, result, store_class, source, label, actor, actor_label, progress, chunk_rows,
            before_commit, on_stored,
        )  # fmt: skip
    except IntegrityError as exc:
        if "unique" not in str(exc).lower():
            raise
        raise ImportFileError(
            "Some of these leads were stored by someone else while the file was importing "
            f"({str(exc).splitlines()[0]}). Nothing was imported; run the import again."
        ) from None
    if progress:
        progress(result.rows, 1.0)
    return result


@contextmanager
def _quick_thread_handoffs() -> Iterator[None]:
    """While the parser thread runs, hand the GIL over sooner. The database thread waits on the server after
    every COPY block and every query, and with Python's default 5 ms switch interval each return from such a
    wait queued behind the busy parser (measured: 20.0 s -> 16.5 s for 200,000 rows). Restored after."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0005))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _run(
    f, csv_file, parser, result, store_class, source, label, actor, actor_label, progress, chunk_rows, before_commit,
    on_stored,
) -> None:  # fmt: skip
    if store_class.prepares_first:
        _run_prepared_first(
            f, csv_file, parser, result, store_class, source, label, actor, actor_label, progress, chunk_rows,
            before_commit, on_stored,
        )  # fmt: skip
        return
    threaded = connection.vendor == "postgresql"
    with transaction.atomic(), _quick_thread_handoffs() if threaded else nullcontext():
        store = store_class(source=source, label=label, actor=actor, actor_label=actor_label)
        chunks = _chunks(iter_rows(f, csv_file, progress), parser, result, chunk_rows)
        if hasattr(store, "prepare"):
            chunks = map(store.prepare, chunks)
        feed = _prefetched(chunks, result.timings) if threaded else chunks
        try:
            for chunk in feed:
                _store_chunk(store, chunk, result, on_stored)
        finally:
            feed.close()  # stops the parsing thread when the database side fails
        _finish(store, result, before_commit)


def _run_prepared_first(
    f, csv_file, parser, result, store_class, source, label, actor, actor_label, progress, chunk_rows, before_commit,
    on_stored,
) -> None:  # fmt: skip
    """SQLite: read, check and encode the whole file first (spooled to a temporary file, one chunk in memory at a
    time), then store it in one transaction, so the database's write lock is held only while prepared rows are
    written. `timings["db_transaction"]`: how long it was held."""
    store = store_class(source=source, label=label, actor=actor, actor_label=actor_label)
    with _Spool() as spool:
        started = time.perf_counter()
        for chunk in _chunks(iter_rows(f, csv_file, progress), parser, result, chunk_rows):
            spool.add(store.prepare(chunk))
        result.timings["prepare"] = time.perf_counter() - started
        started = time.perf_counter()
        with store.waiting_for_the_lock(), transaction.atomic():
            for chunk in spool.chunks():
                _store_chunk(store, chunk, result, on_stored)
            _finish(store, result, before_commit)
        result.timings["db_transaction"] = time.perf_counter() - started


def _store_chunk(store: Store, chunk: list[Record], result: ImportResult, on_stored: StoredCallback | None) -> None:
    created, updated = store.write(chunk)
    result.created += created
    result.updated += updated
    if on_stored is not None:
        on_stored(len(chunk))


def _finish(store: Store, result: ImportResult, before_commit: BeforeCommit | None) -> None:
    """The end of the import's transaction: evaluate what needs it, let the caller check and record (its
    `before_commit`), roll a dry run back."""
    result.bands = store.finish()
    result.timings.update(store.timings)
    if before_commit is not None:
        before_commit(result)
    if result.dry_run:
        transaction.set_rollback(True)


class _Spool:
    """Prepared chunks kept until the transaction stores them: the first in memory, the others in an anonymous
    temporary file (deleted when closed, or by the operating system if the process dies), so a large file never
    sits in memory whole."""

    IN_MEMORY = 1

    def __enter__(self) -> _Spool:
        self.held: list[list[Record]] = []
        self.file: IO[bytes] | None = None
        self.count = 0
        return self

    def __exit__(self, *exc_info) -> None:
        if self.file is not None:
            self.file.close()

    def add(self, chunk: list[Record]) -> None:
        if len(self.held) < self.IN_MEMORY:
            self.held.append(chunk)
            return
        if self.file is None:
            self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __exit__
        pickle.dump(chunk, self.file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def chunks(self) -> Iterator[list[Record]]:
        while self.held:
            yield self.held.pop(0)
        if self.file is not None:
            self.file.seek(0)
            for _ in range(self.count):
                yield pickle.load(self.file)  # noqa: S301 - our own records, written by add() in this process


def import_path(path: str | Path, **kwargs) -> ImportResult:
    with open(path, "rb") as f:
        return import_file(f, **kwargs)
