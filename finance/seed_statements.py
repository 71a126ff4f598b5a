"""Demo partner statements, made through the real services (a step of `finance.seed.STEPS`), so the reconciliation
workspace shows every kind of discrepancy on first login.

For the partner owing the most open fees: an earlier statement (CSV, in the partner's decimal convention) with a
matched line and a line naming only the partner's own reference, which is linked by hand (so the reference is
learnt); then a later one (XLSX, a cover sheet before the lines) whose lines are matched by that reference (or repeat
the fee it named: a duplicate) and by a lead's email, one claims less than the fees (disputed, with a follow-up day),
one claims more (when the partner has enough referrals), one names an unknown tracking code, one repeats the earlier
statement's line (a duplicate), and the partner's other open fees of the period are missing from it. The earlier
statement is paid (allocated to the fees it settled).
"""

import io
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone
from openpyxl import Workbook

from common.money import format_amount
from finance import selectors
from finance.models import MatchCategory, PartnerStatement, ResolutionAction
from finance.services.resolutions import item_resolve, statement_pay
from finance.services.statements import statement_import
from partners.models import BILLABLE_KINDS, FeeAccrual, Partner, Referral

LABEL = "seed_demo"
HEADERS = ["Our ref", "Your reference", "Customer email", "Date", "Type", "Commission", "Currency"]
KIND_WORDS = {
    "sent": "Referral",
    "accepted": "Accepted",
    "conversion": "Conversion",
    "conversion_percent": "Commission",
}


def _candidates() -> tuple[Partner, str, list[tuple[Referral, list[FeeAccrual]]]] | None:
    """The partner and currency with the most referrals whose fees are all still open (oldest first), preferring one
    with enough of them to leave some out and with a referral of two fees (one for each statement)."""
    best = None
    for partner_id, currency in {(row.partner_id, row.currency) for row in selectors.aging(as_of=timezone.localdate())}:
        fees = selectors.with_item_open(
            FeeAccrual.objects.filter(partner_id=partner_id, currency=currency, kind__in=BILLABLE_KINDS)
            .select_related("referral", "referral__lead")
            .order_by("occurred_at", "id")
        )
        by_referral: dict[int, list[FeeAccrual]] = defaultdict(list)
        for fee in fees:
            fee.net = fee.item_net
            by_referral[fee.referral_id].append(fee)
        untouched = [  # neither corrected nor paid: what a statement of open fees lists
            (group[0].referral, group)
            for group in by_referral.values()
            if all(fee.item_net == fee.amount == fee.item_open for fee in group)
        ]
        score = (len(untouched) >= 6, any(len(group) >= 2 for _, group in untouched), len(untouched))
        if best is None or score > best[0]:
            best = (score, Partner.objects.get(pk=partner_id), currency, untouched)
    return best[1:] if best and len(best[3]) >= 5 else None


def _row(partner: Partner, *, amount: Decimal, day: date, currency: str, code="", reference="", email="", kind=""):
    return [reference, code, email, day.strftime("%d/%m/%Y"), KIND_WORDS.get(kind, "All fees"),
            format_amount(amount, partner.decimal_separator), currency]  # fmt: skip


def _csv(rows: list[list]) -> bytes:
    lines = ["Statement of referral fees", "", ";".join(HEADERS), *(";".join(str(c) for c in row) for row in rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def _xlsx(partner: Partner, rows: list[list]) -> bytes:
    book = Workbook()
    book.active.title = "Summary"
    book.active.append([f"{partner.name}: referral fees"])
    sheet = book.create_sheet("Lines")
    sheet.append(["Statement of referral fees"])
    sheet.append([])
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _total(fees: list[FeeAccrual]) -> Decimal:
    return sum((fee.net for fee in fees), Decimal("0"))


def _day(fees: list[FeeAccrual]) -> date:
    return timezone.localdate(fees[-1].occurred_at)


def seed_statements(demo) -> None:
    """Two statements of one partner showing every category; runs when no statement exists yet."""
    if PartnerStatement.objects.exists() or (found := _candidates()) is None:
        return
    partner, currency, referrals = found
    (first, first_fees), (linked, linked_fees), *later = referrals
    with_two = next(((r, f) for r, f in [*later] if len(f) >= 2), None)
    if len(linked_fees) < 2 and with_two is not None:
        later.remove(with_two)
        later.insert(0, (linked, linked_fees))
        linked, linked_fees = with_two
    reference = f"{partner.slug[:3].upper()}-{linked.pk:05d}"
    earlier_rows = [
        _row(partner, code=first.tracking_code, amount=_total(first_fees), day=_day(first_fees), currency=currency),
        _row(partner, reference=reference, amount=linked_fees[0].net, day=_day(linked_fees[:1]),
             kind=linked_fees[0].kind, currency=currency),
    ]  # fmt: skip
    earlier = statement_import(
        partner=partner,
        data=_csv(earlier_rows),
        name=f"{partner.slug}-statement-1.csv",
        actor=demo.actor,
        actor_label=LABEL,
    )
    unknown = earlier.items.get(category=MatchCategory.UNKNOWN_REFERRAL)
    item_resolve(item=unknown, action=ResolutionAction.LINK, referral=linked, actor=demo.actor, now=demo.now)
    statement_pay(
        statement=earlier, amount=_total(first_fees) + linked_fees[0].net, currency=currency,
        received_on=timezone.localdate(demo.now) - timedelta(days=2), reference=f"STMT-{earlier.pk}", actor=demo.actor,
    )  # fmt: skip
    by_email, short, *rest = later
    over = rest[0] if len(rest) >= 2 else None  # at least one referral stays off: its fees are missing from it
    rows = [
        _row(partner, code=first.tracking_code, amount=_total(first_fees), day=_day(first_fees), currency=currency),
        _row(partner, email=by_email[0].lead.email.upper(), amount=_total(by_email[1]), day=_day(by_email[1]),
             currency=currency),
        _row(partner, code=short[0].tracking_code, amount=(_total(short[1]) * Decimal("0.85")).quantize(Decimal("1")),
             day=_day(short[1]), currency=currency),
        _row(partner, code="PT-7X2Q9K4M", amount=Decimal("80.00"), day=_day(short[1]), currency=currency),
    ]  # fmt: skip
    if over is not None:
        rows.append(_row(partner, code=over[0].tracking_code, amount=over[1][0].net + Decimal("10.00"),
                         day=_day(over[1][:1]), kind=over[1][0].kind, currency=currency))  # fmt: skip
    again = linked_fees[1] if len(linked_fees) >= 2 else linked_fees[0]  # the same fee again: a duplicate
    rows.insert(1, _row(partner, reference=reference, amount=again.net, day=_day([again]), kind=again.kind,
                        currency=currency))  # fmt: skip
    statement = statement_import(
        partner=partner,
        data=_xlsx(partner, rows),
        period_start=_day(first_fees[:1]),
        period_end=timezone.localdate(demo.now),
        name=f"{partner.slug}-statement-2.xlsx",
        actor=demo.actor,
        actor_label=LABEL,
    )
    mismatch = statement.items.filter(category=MatchCategory.AMOUNT_MISMATCH, referral=short[0]).first()
    if mismatch is not None:
        item_resolve(
            item=mismatch, action=ResolutionAction.DISPUTE, actor=demo.actor, now=demo.now,
            note="They applied last year's rate; asked for their calculation",
            follow_up_on=timezone.localdate(demo.now) + timedelta(days=5),
        )  # fmt: skip
    demo.count("statements", 2)
    demo.count("statement lines", earlier.line_count + statement.line_count)
