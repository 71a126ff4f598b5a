"""Automatic reconciliation of a partner's statement, set-based in SQL: a dozen statements per run whatever the
number of lines (never a query per line).

Each line is matched to one of the partner's referrals by the first rule that finds one:
  1. its tracking code;
  2. the partner's own reference, learnt when a line was linked by hand (`PartnerReference`);
  3. the SHA-256 of the lead's email, when one of the referral's fees happened within the partner's date window
     (`StatementSettings.match_window_days`) of the line's date (the statement's last day for an undated line);
     the nearest in time wins.
A line that names a fee kind is compared with that fee; a line without one covers the referral's fees that still
stand (not reversed or written off to nothing) up to the statement's last day, summed. What a fee stands at is its
amount and its corrections; payments do not change it. Within the partner's tolerance (money, or a percentage of
the fee: whichever is larger) the line is *matched*, otherwise an *amount mismatch*; a line no rule matched is an
*unknown referral*; a line claiming a fee an earlier line (of this statement, or a reconciled one before it) claimed
is a *duplicate line*. Every fee of the period that still stands, is not fully paid and that no line covers is
*missing from statement*. Each item records the rule that matched it. Amounts are compared in whole cents.
"""

from collections import Counter
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from finance.models import (
    Allocation,
    AuditAction,
    MatchCategory,
    PartnerReference,
    PartnerStatement,
    ReconciliationItem,
    StatementLine,
    StatementSettings,
)
from finance.services.base import FinanceError, audit_record
from finance.statements.cells import email_hash
from leads.models import Lead
from partners import fees
from partners.models import BILLABLE_KINDS, FeeAccrual, Referral

WORK = "finance_recon_lines"
SQLITE_HASH = "finance_email_hash"
BILLABLE = tuple(str(kind) for kind in BILLABLE_KINDS)


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "work": WORK,
        "line": quote(StatementLine._meta.db_table),
        "statement": quote(PartnerStatement._meta.db_table),
        "item": quote(ReconciliationItem._meta.db_table),
        "reference": quote(PartnerReference._meta.db_table),
        "referral": quote(Referral._meta.db_table),
        "lead": quote(Lead._meta.db_table),
        "accrual": quote(FeeAccrual._meta.db_table),
        "allocation": quote(Allocation._meta.db_table),
        "billable": ", ".join(f"'{kind}'" for kind in BILLABLE),
    }


def _dialect() -> dict[str, str]:
    """The few expressions PostgreSQL and SQLite spell differently."""
    if connection.vendor == "postgresql":
        return {
            "hash": "encode(sha256(convert_to(lower(btrim({0})), 'UTF8')), 'hex')",
            "days_apart": "abs(CAST({0} AS date) - {1})",
            "bigint": "bigint",
            "timestamp": "timestamp with time zone",
        }
    connection.ensure_connection()
    connection.connection.create_function(SQLITE_HASH, 1, _sqlite_hash, deterministic=True)
    return {
        "hash": SQLITE_HASH + "({0})",
        "days_apart": "abs(julianday(date({0})) - julianday({1}))",
        "bigint": "integer",
        "timestamp": "datetime",
    }


def _sqlite_hash(email):
    return email_hash(email) if email else None


def _cents(column: str) -> str:
    return f"CAST(ROUND({column} * 100) AS BIGINT)"


def _run(sql: str, params: dict | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return cursor.rowcount


def _exists(sql: str, params: dict) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS ({sql})", params)
        return bool(cursor.fetchone()[0])


def _fees(t: dict[str, str], where: str) -> str:
    """The partner's fees (billable rows) with what each stands at (`net`: amount and corrections) and what payments
    cover (`paid`), in cents; `where` narrows them (on `a`, the fee)."""
    return f"""SELECT a.id, a.referral_id, a.kind, a.currency, a.occurred_at,
            {_cents("a.amount")} + COALESCE(c.cents, 0) AS net, COALESCE(p.cents, 0) AS paid
        FROM {t["accrual"]} a
        LEFT JOIN (SELECT corrects_id, SUM({_cents("amount")}) AS cents FROM {t["accrual"]}
                   WHERE partner_id = %(partner)s AND corrects_id IS NOT NULL GROUP BY corrects_id) c
               ON c.corrects_id = a.id
        LEFT JOIN (SELECT al.accrual_id, SUM({_cents("al.amount")}) AS cents
                   FROM {t["allocation"]} al JOIN {t["accrual"]} x ON x.id = al.accrual_id
                   WHERE x.partner_id = %(partner)s GROUP BY al.accrual_id) p
               ON p.accrual_id = a.id
        WHERE a.partner_id = %(partner)s AND a.kind IN ({t["billable"]}) AND {where}"""  # noqa: S608 - model tables


def _claims(t: dict[str, str]) -> str:
    """Which fee kinds of which referrals are claimed already: matched or mismatched lines of the partner's
    reconciled statements, and of this one once its lines are classified ('' = all of the referral's fees)."""
    return f"""SELECT i.referral_id, l2.fee_kind
        FROM {t["item"]} i JOIN {t["line"]} l2 ON l2.id = i.line_id JOIN {t["statement"]} s ON s.id = i.statement_id
        WHERE s.partner_id = %(partner)s AND (s.status = 'reconciled' OR s.id = %(statement)s)
          AND i.category IN ('matched', 'amount_mismatch')"""  # noqa: S608 - model tables


def _prepare(t: dict[str, str], d: dict[str, str]) -> list[str]:
    """The statement's lines into a work table, matched as they go in by tracking code, else the partner's
    reference (one write per line)."""
    return [
        f"DROP TABLE IF EXISTS {t['work']}",
        f"""CREATE TEMPORARY TABLE {t["work"]} (
            line_id {d["bigint"]} PRIMARY KEY, row_number integer, email_hash varchar(64), fee_kind varchar(20),
            currency varchar(3), amount numeric(14, 2), cents {d["bigint"]}, day date, referral_id {d["bigint"]},
            rule varchar(20))""",
        f"""INSERT INTO {t["work"]} (line_id, row_number, email_hash, fee_kind, currency, amount, cents, day,
                referral_id, rule)
            SELECT l.id, l.row_number, l.email_hash, l.fee_kind, l.currency, l.amount, {_cents("l.amount")},
                COALESCE(l.line_date, %(period_end)s), COALESCE(r.id, pr.referral_id),
                CASE WHEN r.id IS NOT NULL THEN 'tracking_code'
                     WHEN pr.referral_id IS NOT NULL THEN 'partner_reference' END
            FROM {t["line"]} l
            LEFT JOIN {t["referral"]} r
                   ON r.tracking_code = l.tracking_code AND r.partner_id = %(partner)s AND l.tracking_code <> ''
            LEFT JOIN {t["reference"]} pr
                   ON pr.partner_id = %(partner)s AND pr.reference = l.partner_reference AND l.partner_reference <> ''
            WHERE l.statement_id = %(statement)s""",  # noqa: S608 - model tables
    ]


def _by_email(t: dict[str, str], d: dict[str, str]) -> str:
    """3. The lead's email hash, one of the referral's fees within the date window; the nearest in time wins. Only
    the emails of the partner's referrals are hashed (materialized first: the lead table is never hashed whole)."""
    hash_email = d["hash"].format("ld.email")
    days_apart = d["days_apart"].format("a.occurred_at", "w.day")
    return f"""WITH hashes AS MATERIALIZED (
            SELECT r.id AS referral_id, {hash_email} AS email_hash
            FROM {t["referral"]} r JOIN {t["lead"]} ld ON ld.id = r.lead_id
            WHERE r.partner_id = %(partner)s
        )
        UPDATE {t["work"]} SET referral_id = nearest.referral_id, rule = 'email_hash'
        FROM (
            SELECT line_id, referral_id FROM (
                SELECT w.line_id, h.referral_id, ROW_NUMBER() OVER (
                    PARTITION BY w.line_id ORDER BY MIN({days_apart}), h.referral_id) AS rank
                FROM {t["work"]} w
                JOIN hashes h ON h.email_hash = w.email_hash
                JOIN {t["accrual"]} a ON a.referral_id = h.referral_id AND a.kind IN ({t["billable"]})
                WHERE w.referral_id IS NULL AND w.email_hash <> '' AND {days_apart} <= %(window)s
                GROUP BY w.line_id, h.referral_id
            ) ranked WHERE rank = 1
        ) nearest
        WHERE nearest.line_id = {t["work"]}.line_id"""  # noqa: S608 - model tables


def _classify(t: dict[str, str], d: dict[str, str], *, prior: bool) -> list[str]:
    """Each line's item, then the fees no line covers; the work table is dropped at the end. `prior`: the partner
    has reconciled statements before, whose claims count too."""
    claimed = f"""SELECT DISTINCT w.line_id FROM {t["work"]} w
        JOIN ({_claims(t)}) c ON c.referral_id = w.referral_id
         AND (c.fee_kind = w.fee_kind OR c.fee_kind = '' OR w.fee_kind = '')"""  # noqa: S608 - model tables
    lines = f"""WITH ranked AS (
            SELECT w.*,
                ROW_NUMBER() OVER (PARTITION BY referral_id, fee_kind ORDER BY row_number) AS same_kind,
                ROW_NUMBER() OVER (PARTITION BY referral_id ORDER BY row_number) AS any_kind,
                MIN(CASE WHEN fee_kind = '' THEN row_number END) OVER (PARTITION BY referral_id) AS first_all
            FROM {t["work"]} w
        ), covered AS (
            SELECT w.line_id, SUM(f.net) AS cents, COUNT(*) AS fees, MIN(f.id) AS accrual_id
            FROM {t["work"]} w JOIN ({_fees(t, f"a.referral_id IN (SELECT referral_id FROM {t['work']})")}) f
              ON f.referral_id = w.referral_id AND f.currency = w.currency
             AND (f.kind = w.fee_kind OR (w.fee_kind = '' AND f.net > 0 AND f.occurred_at < %(period_after)s))
            GROUP BY w.line_id
        ), marked AS (
            SELECT r.*, CASE WHEN r.referral_id IS NOT NULL AND (
                    r.same_kind > 1 OR (r.fee_kind = '' AND r.any_kind > 1) OR r.first_all < r.row_number
                    OR p.line_id IS NOT NULL) THEN 1 ELSE 0 END AS duplicate
            FROM ranked r LEFT JOIN ({claimed if prior else f"SELECT line_id FROM {t['work']} WHERE 1 = 0"}) p
              ON p.line_id = r.line_id
        )
        INSERT INTO {t["item"]} (statement_id, line_id, referral_id, accrual_id, category, rule, expected_amount,
            statement_amount, currency, created_at)
        SELECT %(statement)s, m.line_id, m.referral_id, CASE WHEN m.duplicate = 0 AND c.fees = 1 THEN c.accrual_id END,
            CASE
                WHEN m.referral_id IS NULL THEN 'unknown_referral'
                WHEN m.duplicate = 1 THEN 'duplicate_line'
                WHEN c.fees IS NOT NULL AND (abs(m.cents - c.cents) <= %(tolerance_cents)s
                     OR abs(m.cents - c.cents) * 10000 <= abs(c.cents) * %(tolerance_bp)s) THEN 'matched'
                ELSE 'amount_mismatch'
            END,
            COALESCE(m.rule, 'none'),
            CASE WHEN m.referral_id IS NOT NULL AND m.duplicate = 0 THEN COALESCE(c.cents, 0) / 100.0 END,
            m.amount, m.currency, %(now)s
        FROM marked m LEFT JOIN covered c ON c.line_id = m.line_id"""  # noqa: S608 - model tables
    period = "a.occurred_at >= %(period_from)s AND a.occurred_at < %(period_after)s"
    missing = f"""INSERT INTO {t["item"]} (statement_id, line_id, referral_id, accrual_id, category, rule,
            expected_amount, statement_amount, currency, created_at)
        SELECT %(statement)s, NULL, f.referral_id, f.id, 'missing', 'none', f.net / 100.0, NULL, f.currency, %(now)s
        FROM ({_fees(t, period)}) f
        LEFT JOIN (SELECT DISTINCT c.referral_id, c.fee_kind FROM ({_claims(t)}) c) c
          ON c.referral_id = f.referral_id AND (c.fee_kind = f.kind OR c.fee_kind = '')
        WHERE f.net > 0 AND f.net > f.paid AND c.referral_id IS NULL"""  # noqa: S608 - model tables
    return [lines, missing, f"DROP TABLE {t['work']}"]


def day_start(day) -> datetime:
    """The first moment of a local day, aware."""
    return timezone.make_aware(datetime.combine(day, time.min))


@transaction.atomic
def statement_reconcile(
    *, statement: PartnerStatement, actor=None, actor_label: str = "", now: datetime | None = None
) -> dict[str, int]:
    """Match every line of an imported statement and classify it, and every fee of its period it does not mention
    (see the module's docstring). Runs once per statement. Returns the number of items per category."""
    now = now or timezone.now()
    statement = PartnerStatement.objects.select_for_update().select_related("partner").get(pk=statement.pk)
    if statement.status != PartnerStatement.Status.IMPORTED or statement.items.exists():
        raise FinanceError(f"Statement {statement.pk} is reconciled already.")
    settings = StatementSettings.objects.filter(partner_id=statement.partner_id).first()
    settings = settings or StatementSettings(partner_id=statement.partner_id)
    ops = connection.ops
    params = {
        "statement": statement.pk,
        "partner": statement.partner_id,
        "period_end": ops.adapt_datefield_value(statement.period_end),
        "period_from": ops.adapt_datetimefield_value(day_start(statement.period_start)),
        "period_after": ops.adapt_datetimefield_value(day_start(statement.period_end + timedelta(days=1))),
        "window": settings.match_window_days,
        "tolerance_cents": int(settings.tolerance_amount * 100),
        "tolerance_bp": int(settings.tolerance_percent * 100),
        "now": ops.adapt_datetimefield_value(now),
    }
    tables, dialect = _tables(), _dialect()
    if connection.vendor == "postgresql":  # one big set-based run: no JIT compile, sorts and hashes in memory
        _run("SET LOCAL jit = off")
        _run("SET LOCAL work_mem = '64MB'")
    for sql in _prepare(tables, dialect):
        _run(sql, params)
    _run(f"ANALYZE {WORK}")  # a temporary table has no statistics until asked: the plans below need them
    unmatched = f"SELECT 1 FROM {WORK} WHERE referral_id IS NULL AND email_hash <> ''"  # noqa: S608 - our table
    if _exists(unmatched, params):
        _run(_by_email(tables, dialect), params)
    prior = PartnerStatement.objects.filter(partner_id=statement.partner_id, status=PartnerStatement.Status.RECONCILED)
    for sql in _classify(tables, dialect, prior=prior.exclude(pk=statement.pk).exists()):
        _run(sql, params)
    counts = Counter(statement.items.values_list("category", flat=True))
    statement.status, statement.reconciled_at = PartnerStatement.Status.RECONCILED, now
    statement.save(update_fields=["status", "reconciled_at"])
    summary = ", ".join(f"{counts.get(c.value, 0)} {c.label.lower()}" for c in MatchCategory)
    audit_record(
        action=AuditAction.STATEMENT_RECONCILED,
        subject_type="statement",
        subject_id=statement.pk,
        partner_id=statement.partner_id,
        summary=f"Statement {statement.pk} of {statement.partner.name} reconciled: {summary}",
        changes={"counts": {c.value: counts.get(c.value, 0) for c in MatchCategory}},
        actor=actor,
        actor_label=actor_label,
        at=now,
    )
    return {c.value: counts.get(c.value, 0) for c in MatchCategory}


# One line at a time (linking by hand), by the same rules -----------------------------------------------------


def fees_covered(*, referral_id: int, currency: str, fee_kind: str, period_end) -> list[FeeAccrual]:
    """The fees a line covers, each with `net` (what it stands at): the named kind, or every fee still standing up
    to the statement's last day."""
    rows = (
        FeeAccrual.objects.filter(referral_id=referral_id, currency=currency, kind__in=BILLABLE_KINDS)
        .annotate(corrections_total=Sum("corrections__amount"))
        .order_by("occurred_at", "id")
    )
    if fee_kind:
        rows = rows.filter(kind=fee_kind)
    else:
        rows = rows.filter(occurred_at__lt=day_start(period_end + timedelta(days=1)))
    covered = []
    for row in rows:
        row.net = fees.money(row.amount + (row.corrections_total or fees.ZERO))
        if fee_kind or row.net > 0:
            covered.append(row)
    return covered


def within_tolerance(claimed: Decimal, expected: Decimal, settings: StatementSettings) -> bool:
    difference = abs(claimed - expected)
    return difference <= settings.tolerance_amount or difference * 100 <= abs(expected) * settings.tolerance_percent


def item_compare(*, line: StatementLine, referral: Referral, settings: StatementSettings) -> dict:
    """What matching `line` to `referral` gives: category, expected amount and the fee (when it covers one)."""
    covered = fees_covered(
        referral_id=referral.pk, currency=line.currency, fee_kind=line.fee_kind, period_end=line.statement.period_end
    )
    expected = sum((fee.net for fee in covered), fees.ZERO)
    matched = bool(covered) and within_tolerance(line.amount, expected, settings)
    return {
        "category": MatchCategory.MATCHED if matched else MatchCategory.AMOUNT_MISMATCH,
        "expected_amount": expected,
        "accrual": covered[0] if len(covered) == 1 else None,
        "fees": covered,
    }


def item_fees(item: ReconciliationItem) -> list[FeeAccrual]:
    """The fees an item is about: its fee, or those its line covers."""
    if item.accrual_id:
        return [item.accrual]
    if item.line_id is None or item.referral_id is None:
        return []
    line = item.line
    return fees_covered(
        referral_id=item.referral_id,
        currency=line.currency,
        fee_kind=line.fee_kind,
        period_end=line.statement.period_end,
    )


def is_open(item: ReconciliationItem) -> bool:
    """Still waiting for a person: not matched and no final resolution (a dispute keeps it open)."""
    if item.category == MatchCategory.MATCHED:
        return False
    return not any(r.action != "dispute" for r in item.resolutions.all())
