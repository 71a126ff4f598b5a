"""The SQLite side of the CSV import (`importing.SqliteStore`).

SQLite has one write lock for the whole database, and a transaction holds it from BEGIN IMMEDIATE to its end: while
an import stores its rows, nobody else writes (a request waits a few seconds, then answers 503). So everything but
the writes happens before the import's transaction begins: each new lead is checked against the ICP by the rule
engine's compiled form and turned into the parameters of three INSERTs (the lead, its evaluation, its "received"
event), exactly as the PostgreSQL import turns it into COPY lines (`leads.import_pg`, same verdict and the same
values). Inside the transaction the writer only looks up the keys already stored, gives the new leads ids after the
largest the table has ever used, and runs one `executemany` per table. Nothing is committed before the end, so a
failure, or a worker killed halfway, leaves nothing half-written.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from leads import engine
from leads.import_pg import (
    EVALUATION_COPY_COLUMNS,
    EVENT_COPY_COLUMNS,
    LEAD_COPY_COLUMNS,
    NULLABLE_COLUMNS,
    TEXT_COLUMNS,
    _json_value,
)
from leads.models import Evaluation, Lead, LeadEvent, LeadStatus

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from leads.importing.base import Record

KEY_BATCH = 900  # keys per lookup (SQLite binds at most 32,766 parameters per statement)


def db_value(value: Any) -> Any:
    """A Python value as Django stores it in SQLite: an aware datetime as naive UTC text (what
    `connection.ops.adapt_datetimefield_value` makes of it, without its per-call overhead), a Decimal as sqlite3's
    adapter writes it, the rest as they are."""
    if value is None or value.__class__ is not datetime:
        return value
    if value.utcoffset() is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return str(value)


class NewLeadRows:
    """Turns accepted records into INSERT parameters (lead, evaluation, event), the verdict included. Built once per
    import; `encode` runs before the import's transaction begins and never touches the database."""

    def __init__(self, *, source, version, reason_ids: dict[str, int], label: str, actor_id, actor_label: str, now):
        self.source_id = source.pk
        self.sla = timedelta(hours=source.sla_hours)
        self.version = version
        self.stamp = db_value(now)
        self.now = now
        self.actor_id, self.actor_label = actor_id, actor_label
        self.reason_ids = reason_ids
        self.event_tail: dict[str, Any] = {"source": source.slug, "import": label}
        if version is not None:
            rule_set = engine.rule_set_from_version(version)
            self.verdict = engine.compile_rule_set(rule_set)
            self.tested = [
                (None, field.removeprefix("attributes."), None)
                if field.startswith("attributes.")
                else (field, None, "" if field in TEXT_COLUMNS else None)
                for field in engine.fields_tested(rule_set)
            ]
            self.event_tail["version"] = version.number

    def encode(self, record: Record) -> None:
        """Fill record.band, record.sort_key and record.lines (the three rows' parameters, each still missing the
        lead's id, which the writer appends)."""
        values, attributes = record.values, record.attributes
        received = record.received_at or self.now
        if self.version is not None:
            band, score, codes, reason_code = self.verdict({**values, "attributes": attributes})
            reason_id = self.reason_ids.get(reason_code) if reason_code else None
            status, icp_band = band, band
            lead_reason = None if band == engine.QUALIFIED or reason_id is None else reason_id
            verdict = {"band": band, "score": score}
        else:
            band, score, codes, reason_id = engine.NEEDS_REVIEW, 0, "", None
            status, icp_band, lead_reason = LeadStatus.NEEDS_REVIEW, "", None
            verdict = {"band": engine.NEEDS_REVIEW, "why": "No published ICP for this source."}
        get = values.get
        received_db = db_value(received)
        lead = (
            self.source_id,
            record.key,
            *[get(name) or "" for name in TEXT_COLUMNS],
            *[db_value(get(name)) for name in NULLABLE_COLUMNS],
            bool(get("do_not_contact")),
            json.dumps(attributes) if attributes else "{}",
            status,
            icp_band,
            lead_reason,
            received_db,
            db_value(received + self.sla),
            self.stamp,
            self.stamp,
        )
        evaluation = ()
        if self.version is not None:
            actual = ", ".join(
                _json_value(get(column, blank) if key is None else attributes.get(key))
                for column, key, blank in self.tested
            )
            evaluation = (self.version.pk, score, band, reason_id, codes, f"[{actual}]", self.stamp)
        data = {"row": record.row, "external_id": record.key, **self.event_tail, **verdict}
        event = ("received", self.actor_id, self.actor_label, json.dumps(data), received_db)
        record.band = band
        record.sort_key = received
        record.lines = (lead, evaluation, event)


class NewLeadRowWriter:
    """Stores a chunk's new leads: ids after the largest the lead table has used (in order of arrival), then one
    executemany per table. Runs inside the import's transaction, which holds SQLite's write lock."""

    def __init__(self, *, has_version: bool):
        self.lead_t, self.eval_t, self.event_t = (
            Lead._meta.db_table,
            Evaluation._meta.db_table,
            LeadEvent._meta.db_table,
        )
        self.has_version = has_version
        self.next_id: int | None = None

    @staticmethod
    def _insert(table: str, columns: tuple[str, ...]) -> str:
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608

    def _first_id(self, cursor) -> int:
        """After the largest id the table holds or ever held (AUTOINCREMENT never reuses a deleted lead's id)."""
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {self.lead_t}")  # noqa: S608 - our table name
        largest = cursor.fetchone()[0]
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
        if cursor.fetchone():
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [self.lead_t])
            row = cursor.fetchone()
            largest = max(largest, row[0] if row else 0)
        return largest + 1

    def write(self, cursor, records: list[Record], timed: Callable[[str], AbstractContextManager]) -> None:
        records = sorted(records, key=lambda r: r.sort_key)
        if self.next_id is None:
            self.next_id = self._first_id(cursor)
        ids = range(self.next_id, self.next_id + len(records))
        self.next_id += len(records)
        for part, table, columns, kind in (
            (0, self.lead_t, LEAD_COPY_COLUMNS, "db_insert_leads"),
            (1, self.eval_t, EVALUATION_COPY_COLUMNS, "db_insert_evaluations"),
            (2, self.event_t, EVENT_COPY_COLUMNS, "db_insert_events"),
        ):
            if part == 1 and not self.has_version:
                continue  # no ICP: no evaluation
            with timed(kind):
                cursor.executemany(
                    self._insert(table, columns), [(*r.lines[part], pk) for r, pk in zip(records, ids, strict=True)]
                )
