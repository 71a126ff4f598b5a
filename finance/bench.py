"""`manage.py bench reconcile --lines N --accruals M`: a partner statement of N lines imported and reconciled
against M open fees, end to end through the real services; PostgreSQL.

Set-up (untimed, committed, deleted at the end): one partner with M/2 referrals converted over the last month, each
with two fees (accepted, conversion), leads with their emails, and partner references for a twelfth of them. The
statement (a semicolon CSV written as a European partner would: decimal comma, day/month/year) has, per hundred
lines: 72 by tracking code (most for one fee kind, some for all of the referral's fees), 4 with another amount,
8 by the partner's reference, 6 by the lead's email only, 5 unknown codes, 5 repeating a line thirty lines up.

Timed: `statement_import` (read, parse every row with the one amount parser, store the lines with COPY) and
`statement_reconcile` (the set-based matching), each in its own transaction as on the upload page: `seconds`;
`match_seconds` is the reconciliation alone. Baseline in the same run: the same matching one line at a time, a
few queries per line (`naive_*`), timed on a sample of lines inside a transaction that is rolled back, and scaled
to every line.
"""

import random
import time
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from finance.models import (
    AuditEntry,
    MatchCategory,
    MatchRule,
    PartnerReference,
    PartnerStatement,
    ReconciliationItem,
    StatementLine,
    StatementSettings,
)
from finance.services.reconcile import day_start, statement_reconcile, within_tolerance
from finance.services.statements import statement_import
from finance.statements.cells import Conventions, email_hash
from leads.models import Lead, LeadSource
from partners.models import BILLABLE_KINDS, FeeAccrual, FeeAgreement, Partner, Referral

SLUG = "bench-reconcile"
NAIVE_SAMPLE = 2000
HEADERS = ["Tracking code", "Reference", "Email", "Date", "Fee", "Amount", "Currency"]


class _Rollback(Exception):
    pass


def _code(i: int) -> str:
    return f"PT-B{i:07d}"


def _email(i: int) -> str:
    return f"bench-recon-{i}@example.com"


def _cleanup() -> None:
    partner = Partner.objects.filter(slug=SLUG).first()
    tables = {model: connection.ops.quote_name(model._meta.db_table) for model in (
        ReconciliationItem, StatementLine, PartnerStatement, PartnerReference, FeeAccrual, Referral, Lead,
        AuditEntry, StatementSettings, FeeAgreement, Partner, LeadSource,
    )}  # fmt: skip
    if partner is not None:
        for statement in PartnerStatement.objects.filter(partner=partner).exclude(file=""):
            statement.file.delete(save=False)
    with transaction.atomic(), connection.cursor() as cursor:
        if partner is not None:
            p = partner.pk
            statements = f"SELECT id FROM {tables[PartnerStatement]} WHERE partner_id = %s"  # noqa: S608
            cursor.execute(f"DELETE FROM {tables[ReconciliationItem]} WHERE statement_id IN ({statements})", [p])  # noqa: S608
            cursor.execute(f"DELETE FROM {tables[StatementLine]} WHERE statement_id IN ({statements})", [p])  # noqa: S608
            for model in (PartnerStatement, PartnerReference, FeeAccrual, AuditEntry, StatementSettings, FeeAgreement):
                cursor.execute(f"DELETE FROM {tables[model]} WHERE partner_id = %s", [p])  # noqa: S608
            cursor.execute(f"DELETE FROM {tables[Referral]} WHERE partner_id = %s", [p])  # noqa: S608
            cursor.execute(f"DELETE FROM {tables[Partner]} WHERE id = %s", [p])  # noqa: S608
        cursor.execute(
            f"DELETE FROM {tables[Lead]} WHERE source_id IN (SELECT id FROM {tables[LeadSource]} WHERE slug = %s)",  # noqa: S608
            [SLUG],
        )
        cursor.execute(f"DELETE FROM {tables[LeadSource]} WHERE slug = %s", [SLUG])  # noqa: S608


def _setup(referrals: int, now: datetime) -> Partner:
    source = LeadSource.objects.create(slug=SLUG, name="Bench: reconciliation")
    partner = Partner.objects.create(name="Bench Reconcile Partner", slug=SLUG, decimal_separator=",")
    agreement = FeeAgreement.objects.create(
        partner=partner, currency="EUR", per_accepted=Decimal("25.00"), per_conversion=Decimal("100.00"),
        valid_from=(now - timedelta(days=400)).date(),
    )  # fmt: skip
    StatementSettings.objects.create(partner=partner, match_window_days=10)
    lead_t, referral_t, accrual_t, reference_t = (
        connection.ops.quote_name(m._meta.db_table) for m in (Lead, Referral, FeeAccrual, PartnerReference)
    )
    start = now - timedelta(days=31)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {lead_t} (source_id, external_id, email, name, company, title, phone, country, postal_code, "  # noqa: S608
            "budget_currency, industry, product_interest, timeline, message, attributes, marketing_consent_version, "
            "partner_sharing_consent_version, do_not_contact, status, icp_band, received_at, respond_by, created_at, "
            "updated_at) "
            "SELECT %s, 'BR' || i, 'bench-recon-' || i || '@example.com', 'Lead ' || i, 'Acme', '', '', 'GB', '', "
            "'', '', '', '', '', '{}', '', '', false, 'referred', '', %s, %s, now(), now() "
            "FROM generate_series(0, %s - 1) AS i",
            [source.pk, start, start, referrals],
        )
        cursor.execute(
            f"INSERT INTO {referral_t} (lead_id, partner_id, fee_agreement_id, mode, status, tracking_code, link_key, "  # noqa: S608
            "fee_terms, match, note, decline_reason, deal_currency, lost_reason, sent_at, accepted_at, converted_at, "
            "deal_value, created_at, updated_at) "
            "SELECT l.id, %s, %s, 'introduce', 'converted', 'PT-B' || lpad(substr(l.external_id, 3), 7, '0'), "
            "md5(l.external_id), '{}', '{}', '', '', 'EUR', '', %s, %s, "
            "%s + (substr(l.external_id, 3)::int %% 28) * interval '1 day', 1000, now(), now() "
            f"FROM {lead_t} l WHERE l.source_id = %s",
            [partner.pk, agreement.pk, start, start, start, source.pk],
        )
        for kind, amount in (("accepted", "25.00"), ("conversion", "100.00 + (substr(r.tracking_code, 5)::int %% 7)")):
            cursor.execute(
                f"INSERT INTO {accrual_t} (referral_id, partner_id, kind, amount, currency, basis, occurred_at, "  # noqa: S608
                "posted_on, due_on, created_at) "
                f"SELECT r.id, r.partner_id, %s, {amount}, 'EUR', 'bench', r.converted_at, "
                "CAST(r.converted_at AS date), CAST(r.converted_at AS date) + 30, now() "
                f"FROM {referral_t} r WHERE r.partner_id = %s",
                [kind, partner.pk],
            )
        cursor.execute(
            f"INSERT INTO {reference_t} (partner_id, reference, referral_id, created_at) "  # noqa: S608
            "SELECT r.partner_id, 'ACME-' || substr(r.tracking_code, 5), r.id, now() "
            f"FROM {referral_t} r WHERE r.partner_id = %s AND substr(r.tracking_code, 5)::int %% 100 BETWEEN 76 AND 83",
            [partner.pk],
        )
        for table in (lead_t, referral_t, accrual_t, reference_t):
            cursor.execute(f"ANALYZE {table}")
    return partner


def _statement_csv(lines: int, referrals: int, start: datetime) -> bytes:
    """The statement as the partner writes it; line i is about referral i (while there are referrals)."""
    rng = random.Random(20261203)
    rows = [";".join(HEADERS)]
    for i in range(lines):
        n = i % referrals
        day = (start + timedelta(days=n % 28)).date().strftime("%d/%m/%Y")
        band = i % 100
        if band < 72:
            if rng.random() < 0.3:
                row = [_code(n), "", "", day, "", f"{125 + n % 7},00", "EUR"]  # all of the referral's fees
            else:
                row = [_code(n), "", "", day, "conversion", f"{100 + n % 7},00", "EUR"]
        elif band < 76:
            row = [_code(n), "", "", day, "conversion", f"{109 + n % 7},50", "EUR"]
        elif band < 84:
            row = ["", f"ACME-{n:07d}", "", day, "accepted", "25,00", "EUR"]
        elif band < 90:
            row = ["", "", _email(n).upper(), day, "accepted", "25,00", "EUR"]
        elif band < 95:
            row = [f"PT-X{n:07d}", "", "", day, "", "125,00", "EUR"]
        else:
            row = rows[max(len(rows) - 30, 1)].split(";")  # a line by tracking code, thirty lines back
        rows.append(";".join(row))
    return ("\r\n".join(rows) + "\r\n").encode()


# The baseline: one line at a time --------------------------------------------------------------------------


def _naive(statement: PartnerStatement, sample: list[StatementLine]) -> None:
    """The same rules, line by line: a lookup per rule, the fees of the referral, the earlier claims, one insert."""
    settings = StatementSettings.objects.get(partner_id=statement.partner_id)
    hashes = {
        email_hash(email): pk
        for pk, email in Referral.objects.filter(partner_id=statement.partner_id).values_list("pk", "lead__email")
    }
    after = day_start(statement.period_end + timedelta(days=1))
    seen: set[tuple[int, str]] = set()
    for line in sample:
        referral_id, rule = None, MatchRule.NONE
        if line.tracking_code:
            referral_id = (
                Referral.objects.filter(partner_id=statement.partner_id, tracking_code=line.tracking_code)
                .values_list("pk", flat=True)
                .first()
            )
            rule = MatchRule.TRACKING_CODE
        if referral_id is None and line.partner_reference:
            referral_id = (
                PartnerReference.objects.filter(partner_id=statement.partner_id, reference=line.partner_reference)
                .values_list("referral_id", flat=True)
                .first()
            )
            rule = MatchRule.PARTNER_REFERENCE
        if referral_id is None and line.email_hash:
            referral_id = hashes.get(line.email_hash)
            rule = MatchRule.EMAIL_HASH
        category, expected, accrual_id = MatchCategory.UNKNOWN_REFERRAL, None, None
        if referral_id is not None:
            fees = FeeAccrual.objects.filter(
                referral_id=referral_id, currency=line.currency, kind__in=BILLABLE_KINDS, occurred_at__lt=after
            ).annotate(corrections_total=Sum("corrections__amount"))
            if line.fee_kind:
                fees = fees.filter(kind=line.fee_kind)
            covered = [(f.pk, f.amount + (f.corrections_total or 0)) for f in fees]
            expected = sum((net for _, net in covered), Decimal("0"))
            accrual_id = covered[0][0] if len(covered) == 1 else None
            earlier = (
                ReconciliationItem.objects.filter(referral_id=referral_id, statement__partner_id=statement.partner_id)
                .exclude(statement=statement)
                .exists()
            )
            if earlier or (referral_id, line.fee_kind) in seen or (referral_id, "") in seen:
                category = MatchCategory.DUPLICATE_LINE
            elif covered and within_tolerance(line.amount, expected, settings):
                category = MatchCategory.MATCHED
            else:
                category = MatchCategory.AMOUNT_MISMATCH
            seen.add((referral_id, line.fee_kind))
        ReconciliationItem.objects.create(
            statement=statement, line=line, referral_id=referral_id, accrual_id=accrual_id, category=category,
            rule=rule if referral_id else MatchRule.NONE, expected_amount=expected, statement_amount=line.amount,
            currency=line.currency,
        )  # fmt: skip


def run_reconcile(*, lines: int, accruals: int) -> dict:
    referrals = max(accruals // 2, 1)
    now = timezone.now()
    _cleanup()
    figures: dict = {"lines": lines, "accruals": referrals * 2}
    try:
        with transaction.atomic():
            partner = _setup(referrals, now)
        data = _statement_csv(lines, referrals, now - timedelta(days=31))
        figures["file_mb"] = round(len(data) / 1024 / 1024, 1)
        conventions = Conventions(decimal_separator=",", date_order="dmy", default_currency="")
        started = time.perf_counter()
        statement = statement_import(
            partner=partner, data=data, name="bench-statement.csv", conventions=conventions, reconcile=False,
            actor_label="bench",
        )  # fmt: skip
        imported = time.perf_counter()
        counts = statement_reconcile(statement=statement, actor_label="bench")
        finished = time.perf_counter()
        figures["import_seconds"] = round(imported - started, 2)
        figures["match_seconds"] = round(finished - imported, 2)
        figures["seconds"] = round(finished - started, 2)
        figures["categories"] = counts
        figures.update(_baseline(statement, lines, figures["match_seconds"]))
    finally:
        _cleanup()
    return figures


def _baseline(statement: PartnerStatement, lines: int, match_seconds: float) -> dict:
    sample_size = min(NAIVE_SAMPLE, lines)
    step = max(lines // sample_size, 1)
    sample = list(statement.lines.order_by("row_number")[::step][:sample_size])
    try:
        with transaction.atomic():
            started = time.perf_counter()
            _naive(statement, sample)
            done = time.perf_counter()
            raise _Rollback
    except _Rollback:
        pass
    per_line = (done - started) / len(sample)
    naive_seconds = per_line * lines
    return {
        "naive_sample_lines": len(sample),
        "naive_ms_per_line": round(per_line * 1000, 3),
        "naive_seconds": round(naive_seconds, 1),
        "ratio_vs_naive": round(naive_seconds / match_seconds, 1) if match_seconds else None,
    }
