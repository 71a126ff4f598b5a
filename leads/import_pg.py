"""The PostgreSQL side of the CSV import (`importing.PostgresStore`).

New leads are checked against the ICP in Python, by the rule engine's compiled form, while the rows are
parsed (in the parser thread), and each one becomes three lines of COPY text: the lead, its evaluation and
its "received" event. The database then does little more than a plain COPY would: per chunk, one lookup of
the keys it already holds, ids from the sequence, and one COPY into each of the three tables, the leads in
order of arrival so that the indexes on dates fill from left to right. Rows whose lead already exists (an
earlier import, or a repeat of a key further up the same file) take the set-based update path and are
re-evaluated together at the end (`leads_evaluate_bulk`).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from json.encoder import encode_basestring  # json.dumps(text, ensure_ascii=False), without the dispatch
from typing import TYPE_CHECKING, Any

from django.db import connection

from leads import engine
from leads.fields import BY_NAME, IMPORT_COLUMNS, TEXT_KINDS
from leads.models import Evaluation, Lead, LeadEvent, LeadStatus, StagedLead

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from leads.importing.base import Record

_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"

# Columns a new lead's COPY line carries, in order; its id comes last (drawn when the chunk is written). The
# lead's own columns are the ones `leads.fields` says an import writes: text first (blank = ""), then the others.
TEXT_COLUMNS = tuple(name for name in IMPORT_COLUMNS if BY_NAME[name].kind in TEXT_KINDS)
NULLABLE_COLUMNS = tuple(
    name for name in IMPORT_COLUMNS if BY_NAME[name].kind not in TEXT_KINDS and name != "do_not_contact"
)
LEAD_COPY_COLUMNS = (
    "source_id", "external_id", *TEXT_COLUMNS, *NULLABLE_COLUMNS, "do_not_contact", "attributes", "status",
    "icp_band", "primary_reason_id", "received_at", "respond_by", "created_at", "updated_at", "id",
)  # fmt: skip
EVALUATION_COPY_COLUMNS = (
    "version_id", "score", "band", "primary_reason_id", "outcomes", "actual", "evaluated_at", "lead_id",
)  # fmt: skip
EVENT_COPY_COLUMNS = ("verb", "actor_id", "actor_label", "data", "at", "lead_id")


def copy_text(value: str) -> str:
    """A text value as COPY's text format writes it (backslash, tab and line ends escaped)."""
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


def _iso(value: datetime) -> str:
    return value.isoformat()


# How a non-null value of each nullable column is written in COPY text (bool: t/f; numbers: exact digits).
_COPY_FORMAT = {bool: lambda value: "t" if value else "f", datetime: _iso, int: str, Decimal: str}
_JSON_FORMAT = {
    str: encode_basestring,
    int: str,
    Decimal: str,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}


def _json_value(value: Any) -> str:
    """A value as the evaluation's `actual` list holds it: what the lead's column holds, as JSON."""
    write = _JSON_FORMAT.get(type(value))
    return write(value) if write is not None else json.dumps(value, ensure_ascii=False)


def _json_object(values: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{encode_basestring(key)}: {_json_value(value)}" for key, value in values.items()) + "}"


class NewLeadEncoder:
    """Turns accepted records into COPY lines (lead, evaluation, event), the verdict included. Built once per
    import; `encode` runs in the parser thread, so the database connection is never touched here."""

    def __init__(self, *, source, version, reason_ids: dict[str, int], label: str, actor_id, actor_label: str, now):
        self.source_text = str(source.pk)
        self.sla = timedelta(hours=source.sla_hours)
        self.version = version
        self.now, self.stamp = now, now.isoformat()
        self.actor = NULL if actor_id is None else str(actor_id)
        self.actor_label = copy_text(actor_label)
        self.reason_ids = reason_ids
        if version is not None:
            rule_set = engine.rule_set_from_version(version)
            self.verdict = engine.compile_rule_set(rule_set)
            tested = engine.fields_tested(rule_set)
            # (lead column or None, attribute key or None, blank text value) per tested field, in order.
            self.tested = [
                (None, field.removeprefix("attributes."), None)
                if field.startswith("attributes.")
                else (field, None, "" if field in TEXT_COLUMNS else None)
                for field in tested
            ]
        # The constant part of each event's data, JSON-encoded once.
        self.event_tail = ", ".join(
            f"{json.dumps(key)}: {value}"
            for key, value in (
                ("source", json.dumps(source.slug, ensure_ascii=False)),
                ("import", json.dumps(label, ensure_ascii=False)),
                *((("version", str(version.number)),) if version is not None else ()),
            )
        )

    def encode(self, record: Record) -> None:
        """Fill record.band, record.sort_key and record.lines (COPY text, each still missing `\\t<id>\\n`)."""
        values = record.values
        received = record.received_at or self.now
        respond_by = received + self.sla
        attributes = record.attributes
        if self.version is not None:
            band, score, codes, reason_code = self.verdict({**values, "attributes": attributes})
            reason_id = self.reason_ids.get(reason_code) if reason_code else None
            status = band
            lead_reason = NULL if band == engine.QUALIFIED or reason_id is None else str(reason_id)
        else:
            band, score, codes, reason_id = "needs_review", 0, "", None
            status, lead_reason = LeadStatus.NEEDS_REVIEW, NULL
        received_s = received.isoformat()
        get = values.get
        texts = [record.key, *[get(name) or "" for name in TEXT_COLUMNS]]
        if _SPECIAL.search("".join(texts)):  # rare: a value with a tab, a line end or a backslash
            texts = [copy_text(text) for text in texts]
        nullable = [
            NULL if (value := get(name)) is None else _COPY_FORMAT.get(type(value), str)(value)
            for name in NULLABLE_COLUMNS
        ]
        lead = "\t".join(
            [
                self.source_text,
                *texts,
                *nullable,
                "t" if get("do_not_contact") else "f",
                copy_text(_json_object(attributes)) if attributes else "{}",
                status,
                band if self.version is not None else "",
                lead_reason,
                received_s,
                respond_by.isoformat(),
                self.stamp,
                self.stamp,
            ]
        )
        if self.version is not None:
            actual = ", ".join(
                [
                    _json_value(get(column, blank) if key is None else attributes.get(key))
                    for column, key, blank in self.tested
                ]
            )
            evaluation = (
                f"{self.version.pk}\t{score}\t{band}\t{NULL if reason_id is None else reason_id}\t{codes}\t"
                f"{copy_text('[' + actual + ']')}\t{self.stamp}"
            )
            verdict = f'"band": "{band}", "score": {score}'
        else:
            evaluation = ""
            verdict = '"band": "needs_review", "why": "No published ICP for this source."'
        data = f'{{"row": {record.row}, "external_id": {encode_basestring(record.key)}, {self.event_tail}, {verdict}}}'
        event = f"received\t{self.actor}\t{self.actor_label}\t{copy_text(data)}\t{received_s}"
        record.band = band
        record.sort_key = received
        record.lines = (lead, evaluation, event)


class NewLeadWriter:
    """Stores a chunk's new leads: ids from the sequence (in order of arrival), then one COPY per table."""

    def __init__(self, *, has_version: bool):
        self.lead_t, self.eval_t, self.event_t = (
            Lead._meta.db_table,
            Evaluation._meta.db_table,
            LeadEvent._meta.db_table,
        )
        self.has_version = has_version
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [self.lead_t])
            self.sequence = cursor.fetchone()[0]

    def write(self, cursor, records: list[Record], timed: Callable[[str], AbstractContextManager]) -> None:
        """`timed(kind)` wraps each statement, for the import's breakdown of where its time goes."""
        records = sorted(records, key=lambda r: r.sort_key)
        with timed("db_ids"):
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [self.sequence, len(records)])
            ids = sorted(row[0] for row in cursor.fetchall())
        tails = [f"\t{pk}\n" for pk in ids]
        for part, table, columns, kind in (
            (0, self.lead_t, LEAD_COPY_COLUMNS, "db_copy_leads"),
            (1, self.eval_t, EVALUATION_COPY_COLUMNS, "db_copy_evaluations"),
            (2, self.event_t, EVENT_COPY_COLUMNS, "db_copy_events"),
        ):
            if part == 1 and not self.has_version:
                continue  # no ICP: no evaluation
            lines = [r.lines[part] + tail for r, tail in zip(records, tails, strict=True)]
            with timed(kind):
                self._copy(cursor, table, columns, lines)

    @staticmethod
    def _copy(cursor, table: str, columns: tuple[str, ...], lines: list[str]) -> None:
        data = "".join(lines).encode()
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for start in range(0, len(data), 1 << 20):
                copy.write(data[start : start + (1 << 20)])


def staged_columns_sql() -> str:
    return ", ".join(
        f"{f.column} {f.db_type(connection)}{' PRIMARY KEY' if f.primary_key else ''}"
        for f in StagedLead._meta.concrete_fields
    )
