"""What every part of the import shares: its limits, the whole-file error, a row's problem, an accepted record and
the outcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CHUNK_ROWS = 50_000
KEY_MAX_LENGTH = 100  # Lead.external_id
PREVIEW_ROWS = 20
SNIFF_BYTES = 64 * 1024
ProgressCallback = Callable[[int, float], None]  # (rows read so far, fraction of the file read)
BeforeCommit = Callable[["ImportResult"], None]  # called inside the import's transaction, just before it ends
StoredCallback = Callable[[int], None]  # (records just stored): after each chunk, inside the transaction


class ImportFileError(Exception):
    """The file as a whole cannot be imported (not text, empty, cut off, bad mapping). Nothing was stored."""


@dataclass
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(slots=True)
class Record:
    """One accepted row: Lead column values (only those the file gives), attributes, and its dedupe key."""

    row: int
    key: str
    values: dict[str, Any]
    attributes: dict[str, Any]
    received_at: datetime | None
    repeat: bool = False  # its key was already stored by an earlier chunk of this file
    # Filled by PostgresStore.prepare: the verdict's band, the order of arrival, the COPY lines.
    band: str = ""
    sort_key: datetime | None = None
    lines: tuple[str, str, str] = ()


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    bands: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    encoding: str = ""
    delimiter: str = ""
    mapping: dict[str, str] = field(default_factory=dict)
    # Seconds by stage (database statements by kind, the parser thread's CPU time): for `bench import`.
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "dry_run": self.dry_run,
            "bands": self.bands,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "mapping": self.mapping,
            "errors": [error.as_dict() for error in self.errors],
        }
