"""Storing a chunk of accepted records: PostgreSQL by COPY (`leads.import_pg`), SQLite by executemany
(`leads.import_sqlite`), any other database through the ORM in batches. Rows whose lead already exists update it
(blank cells keep what is stored, do-not-contact is never cleared, attributes are merged) and are re-evaluated
together at the end."""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone
from psycopg.types.json import Jsonb

from leads.fields import IMPORT_COLUMNS
from leads.import_pg import NewLeadEncoder, NewLeadWriter, staged_columns_sql
from leads.import_sqlite import KEY_BATCH, NewLeadRows, NewLeadRowWriter, db_value
from leads.importing.base import Record
from leads.models import DisqualificationReason, Lead, LeadEvent, LeadSource, StagedLead
from leads.services import leads_evaluate_bulk, published_version

LEAD_COLUMNS = IMPORT_COLUMNS  # the Lead columns an import writes


class Store(ABC):
    prepares_first = False  # True: `prepare` every chunk before the transaction begins (SQLite's write lock)

    def __init__(self, *, source: LeadSource, label: str, actor, actor_label: str):
        self.source = source
        self.label = label
        self.actor_id = actor.pk if actor is not None else None
        self.actor_label = actor_label
        self.now = timezone.now()
        self.sla = timedelta(hours=source.sla_hours)
        self.timings: dict[str, float] = {}  # seconds by kind of database work

    @contextmanager
    def timed(self, kind: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[kind] = self.timings.get(kind, 0.0) + time.perf_counter() - started

    @abstractmethod
    def write(self, records: list[Record]) -> tuple[int, int]:
        """Store one chunk of accepted records; returns (created, updated)."""

    @abstractmethod
    def finish(self) -> dict[str, int]:
        """Evaluate what needs it after the last chunk; returns leads per band."""


class OrmStore(Store):
    """Any database: the ORM in batches, then one set-based evaluation of every lead touched."""

    batch = 500

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.touched: list[int] = []

    def write(self, records: list[Record]) -> tuple[int, int]:
        created = updated = 0
        for start in range(0, len(records), self.batch):
            batch = records[start : start + self.batch]
            existing = {
                lead.external_id: lead
                for lead in Lead.objects.filter(source=self.source, external_id__in=[r.key for r in batch])
            }
            new, changed, events = [], [], []
            for record in batch:
                lead = existing.get(record.key)
                if lead is None:
                    received = record.received_at or self.now
                    lead = Lead(
                        source=self.source,
                        external_id=record.key,
                        received_at=received,
                        respond_by=received + self.sla,
                        attributes=dict(record.attributes),
                        **record.values,
                    )
                    new.append((lead, record))
                else:
                    for name, value in record.values.items():
                        setattr(lead, name, (lead.do_not_contact or value) if name == "do_not_contact" else value)
                    lead.attributes = {**(lead.attributes or {}), **record.attributes}
                    lead.updated_at = self.now
                    changed.append((lead, record))
                    updated += 0 if record.repeat else 1
            Lead.objects.bulk_create([lead for lead, _ in new])
            if changed:
                Lead.objects.bulk_update(
                    [lead for lead, _ in changed], [*LEAD_COLUMNS, "attributes", "updated_at"], batch_size=self.batch
                )
            for lead, record in new:
                events.append(self._event(lead, "received", record, lead.received_at))
            for lead, record in changed:
                events.append(self._event(lead, "updated", record, self.now))
            LeadEvent.objects.bulk_create(events)
            self.touched.extend(lead.pk for lead, _ in (*new, *changed))
            created += len(new)
        return created, updated

    def _event(self, lead: Lead, verb: str, record: Record, at: datetime) -> LeadEvent:
        data: dict[str, Any] = {"import": self.label, "row": record.row}
        if verb == "received":
            data |= {"source": self.source.slug, "external_id": lead.external_id}
        else:
            data["fields"] = sorted([*record.values, *(f"attributes.{k}" for k in record.attributes)])
        return LeadEvent(lead=lead, verb=verb, actor_id=self.actor_id, actor_label=self.actor_label, data=data, at=at)

    def finish(self) -> dict[str, int]:
        bands: dict[str, int] = {}
        ids = sorted(set(self.touched))
        for start in range(0, len(ids), self.batch):
            queryset = Lead.objects.filter(pk__in=ids[start : start + self.batch])
            for band, n in leads_evaluate_bulk(queryset=queryset, actor_label=self.actor_label or "import").items():
                bands[band] = bands.get(band, 0) + n
        return {band: n for band, n in bands.items() if n}


class PostgresStore(Store):
    """PostgreSQL: new leads are checked and encoded as COPY lines in the parser thread (`prepare`) and
    stored with one COPY per table (`leads.import_pg`); rows whose lead already exists are COPY'd into a
    temporary staging table and applied in one UPDATE … FROM, then re-evaluated together at the end."""

    COPY_COLUMNS = ("row_no", "repeat", "lead_id", "external_id", "received_at", "attributes", *LEAD_COLUMNS)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.new_bands: dict[str, int] = {}
        self.version = published_version(self.source.icp_profile_id)
        self.lead_t, self.event_t = Lead._meta.db_table, LeadEvent._meta.db_table
        self.staged_t = StagedLead._meta.db_table
        self.encoder = NewLeadEncoder(
            source=self.source,
            version=self.version,
            reason_ids=dict(DisqualificationReason.objects.values_list("code", "id")),
            label=self.label,
            actor_id=self.actor_id,
            actor_label=self.actor_label,
            now=self.now,
        )
        self.writer = NewLeadWriter(has_version=self.version is not None)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.staged_t}, import_touched")
            cursor.execute(f"CREATE TEMP TABLE {self.staged_t} ({staged_columns_sql()}) ON COMMIT DROP")
            cursor.execute("CREATE TEMP TABLE import_touched (lead_id bigint PRIMARY KEY) ON COMMIT DROP")

    def prepare(self, records: list[Record]) -> list[Record]:
        """Runs in the parser thread: the verdict and COPY lines of each record, should it be new."""
        for record in records:
            self.encoder.encode(record)
        return records

    def write(self, records: list[Record]) -> tuple[int, int]:
        with connection.cursor() as cursor, self.timed("db_key_lookup"):
            # One probe of the (source, external id) unique index per key, whatever the planner thinks of a
            # table that grew by a million rows inside this transaction (its statistics do not know yet, and
            # a plain `= ANY(…)` then reads every lead of the source for every chunk). LIMIT 1 keeps the
            # subquery a per-key lookup.
            cursor.execute(
                "SELECT l.external_id, l.id FROM unnest(%s::text[]) AS k(key) CROSS JOIN LATERAL "  # noqa: S608
                f"(SELECT id, external_id FROM {self.lead_t} WHERE source_id = %s AND external_id = k.key "
                "AND external_id <> '' LIMIT 1) AS l",
                [[r.key for r in records], self.source.pk],
            )
            existing = dict(cursor.fetchall())
        with connection.cursor() as cursor:
            new = [r for r in records if r.key not in existing] if existing else records
            updated = 0
            if existing:
                with self.timed("db_update"):
                    updated = self._update(cursor, [r for r in records if r.key in existing], existing)
            if new:
                self.writer.write(cursor, new, self.timed)
                for record in new:
                    self.new_bands[record.band] = self.new_bands.get(record.band, 0) + 1
        return len(new), updated

    def _update(self, cursor, records: list[Record], ids: dict[str, int]) -> int:
        cursor.execute(f"TRUNCATE {self.staged_t}")
        with cursor.cursor.copy(f"COPY {self.staged_t} ({', '.join(self.COPY_COLUMNS)}) FROM STDIN") as copy:
            for r in records:
                values = r.values
                copy.write_row(
                    (r.row, r.repeat, ids[r.key], r.key, r.received_at, Jsonb(r.attributes) if r.attributes else None,
                     *[values.get(name) for name in LEAD_COLUMNS])
                )  # fmt: skip
        return self._update_existing(cursor)

    def _update_existing(self, cursor) -> int:
        merge = ", ".join(
            "do_not_contact = l.do_not_contact OR COALESCE(s.do_not_contact, false)"
            if name == "do_not_contact"
            else f"{name} = COALESCE(s.{name}, l.{name})"
            for name in LEAD_COLUMNS
        )
        cursor.execute(
            f"WITH u AS (UPDATE {self.lead_t} l SET {merge}, "  # noqa: S608 - identifiers are ours, values bound
            "attributes = l.attributes || COALESCE(s.attributes, '{}'::jsonb), updated_at = %s "
            f"FROM {self.staged_t} s WHERE s.lead_id = l.id RETURNING l.id, s.row_no, s.repeat), "
            f"e AS (INSERT INTO {self.event_t} (lead_id, verb, actor_id, actor_label, data, at) "
            "SELECT u.id, 'updated', %s::bigint, %s, jsonb_build_object('import', %s::text, 'row', u.row_no), %s "
            "FROM u), "
            "t AS (INSERT INTO import_touched SELECT id FROM u ON CONFLICT DO NOTHING) "
            "SELECT COUNT(*) FILTER (WHERE NOT u.repeat) FROM u",
            [self.now, self.actor_id, self.actor_label, self.label, self.now],
        )
        return cursor.fetchone()[0]

    def finish(self) -> dict[str, int]:
        bands = dict(self.new_bands)
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM import_touched)")
            touched = cursor.fetchone()[0]
        if touched:
            queryset = Lead.objects.filter(pk__in=RawSQL("SELECT lead_id FROM import_touched", ()))
            with self.timed("db_reevaluate"):
                evaluated = leads_evaluate_bulk(queryset=queryset, actor_label=self.actor_label or "import")
            for band, n in evaluated.items():
                bands[band] = bands.get(band, 0) + n
        # Check the deferred foreign keys now (honest timings), then defer again.
        with connection.cursor() as cursor, self.timed("db_foreign_keys"):
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        return {band: n for band, n in bands.items() if n}


class SqliteStore(OrmStore):
    """SQLite: new leads are checked against the ICP and encoded before the import's transaction begins
    (`prepare`, `leads.import_sqlite`), then stored with one executemany per table and chunk; rows whose lead
    already exists are updated with one executemany and re-evaluated together at the end (`finish`)."""

    prepares_first = True
    LOCK_WAIT_SECONDS = 60  # how long the import waits for the write lock (others hold it for short writes)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.version = published_version(self.source.icp_profile_id)
        self.rows = NewLeadRows(
            source=self.source,
            version=self.version,
            reason_ids=dict(DisqualificationReason.objects.values_list("code", "id")),
            label=self.label,
            actor_id=self.actor_id,
            actor_label=self.actor_label,
            now=self.now,
        )
        self.writer = NewLeadRowWriter(has_version=self.version is not None)
        self.new_bands: dict[str, int] = {}
        self.lead_t, self.event_t = Lead._meta.db_table, LeadEvent._meta.db_table

    @contextmanager
    def waiting_for_the_lock(self) -> Iterator[None]:
        """The import's transaction waits for the write lock longer than a request does, then restores the
        connection's busy timeout."""
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout")
            previous = int(cursor.fetchone()[0])
            cursor.execute(f"PRAGMA busy_timeout = {self.LOCK_WAIT_SECONDS * 1000}")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {previous}")

    def prepare(self, records: list[Record]) -> list[Record]:
        """Before the transaction: the verdict and INSERT parameters of each record, should it be new."""
        for record in records:
            self.rows.encode(record)
        return records

    def write(self, records: list[Record]) -> tuple[int, int]:
        with self.timed("db_key_lookup"):
            existing: dict[str, int] = {}
            keys = [r.key for r in records]
            for start in range(0, len(keys), KEY_BATCH):
                found = Lead.objects.filter(source=self.source, external_id__in=keys[start : start + KEY_BATCH])
                existing.update(found.exclude(external_id="").values_list("external_id", "pk"))
        new = [r for r in records if r.key not in existing] if existing else records
        updated = 0
        with connection.cursor() as cursor:
            if existing:
                with self.timed("db_update"):
                    updated = self._update(cursor, [r for r in records if r.key in existing], existing)
            if new:
                self.writer.write(cursor, new, self.timed)
        for record in new:
            self.new_bands[record.band] = self.new_bands.get(record.band, 0) + 1
        return len(new), updated

    def _update(self, cursor, records: list[Record], ids: dict[str, int]) -> int:
        """Blank cells keep what is stored, do-not-contact is never cleared, attributes are merged."""
        merge = ", ".join(
            "do_not_contact = (do_not_contact OR COALESCE(%s, 0))"
            if name == "do_not_contact"
            else f"{name} = COALESCE(%s, {name})"
            for name in LEAD_COLUMNS
        )
        now = db_value(self.now)
        cursor.executemany(
            f"UPDATE {self.lead_t} SET {merge}, attributes = json_patch(attributes, %s), updated_at = %s "  # noqa: S608 - our identifiers, values bound
            "WHERE id = %s",
            [
                (*[db_value(r.values.get(name)) for name in LEAD_COLUMNS], json.dumps(r.attributes), now, ids[r.key])
                for r in records
            ],
        )
        events = []
        for r in records:
            fields = sorted([*r.values, *(f"attributes.{key}" for key in r.attributes)])
            data = json.dumps({"import": self.label, "row": r.row, "fields": fields})
            events.append((ids[r.key], self.actor_id, self.actor_label, data, now))
        cursor.executemany(
            f"INSERT INTO {self.event_t} (lead_id, verb, actor_id, actor_label, data, at) "  # noqa: S608 - our identifiers
            "VALUES (%s, 'updated', %s, %s, %s, %s)",
            events,
        )
        self.touched.extend(ids[r.key] for r in records)
        return sum(1 for r in records if not r.repeat)

    def finish(self) -> dict[str, int]:
        bands = dict(self.new_bands)
        for band, n in super().finish().items():
            bands[band] = bands.get(band, 0) + n
        return {band: n for band, n in bands.items() if n}
