"""Reads for partners and referrals: querysets with their joins done, and performance figures computed in
grouped queries, so list pages never query per row."""

import statistics
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

from django.db import connections
from django.db.models import Aggregate, Count, DurationField, F, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from leads.models import Lead
from partners import fees, matching
from partners.models import (
    FeeAccrual,
    FeeAgreement,
    Partner,
    Referral,
    ReferralMode,
    ReferralStatus,
)

# Partners ------------------------------------------------------------------------------------------------


class Median(Aggregate):
    """PostgreSQL's median (of numbers or intervals); other databases get it computed in Python."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


@dataclass(frozen=True)
class Performance:
    """What the counts annotated by `partner_list()` cannot hold: the median time to accept and the fees."""

    median_accept_hours: float | None = None
    fees: tuple[tuple[str, Decimal], ...] = field(default=())  # (currency, total), by currency

    @property
    def fees_display(self) -> str:
        return ", ".join(fees.format_money(total, currency) for currency, total in self.fees) or "—"


def partner_list(*, now: datetime | None = None) -> QuerySet[Partner]:
    """Partners with their referral counts (all time) and this month's volume, in the one query."""
    month = matching.month_start(now or timezone.now())
    return Partner.objects.annotate(
        referrals_sent=Count("referrals", filter=Q(referrals__sent_at__isnull=False)),
        referrals_accepted=Count("referrals", filter=Q(referrals__accepted_at__isnull=False)),
        referrals_converted=Count("referrals", filter=Q(referrals__status=ReferralStatus.CONVERTED)),
        month_used=Count("referrals", filter=Q(referrals__sent_at__gte=month)),
    )


def partner_detail() -> QuerySet[Partner]:
    return partner_list().prefetch_related(
        "contacts",
        "criteria",
        "accepted_reasons",
        Prefetch("agreements", queryset=FeeAgreement.objects.prefetch_related("tiers").order_by("-valid_from")),
    )


def partner_performance(*, partner_ids: list[int]) -> dict[int, Performance]:
    """Median hours from sent to accepted and fees earned per currency for these partners: two grouped
    queries, however many partners."""
    if not partner_ids:
        return {}
    accepted = Referral.objects.filter(partner_id__in=partner_ids, accepted_at__isnull=False, sent_at__isnull=False)
    medians = _median_accept_hours(accepted.order_by())
    earned: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
    rows = (
        FeeAccrual.objects.filter(partner_id__in=partner_ids)
        .values_list("partner_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by("partner_id", "currency")
    )
    for partner_id, currency, total in rows:
        earned[partner_id].append((currency, total))
    return {pk: Performance(medians.get(pk), tuple(earned.get(pk, ()))) for pk in partner_ids}


def _median_accept_hours(accepted: QuerySet[Referral]) -> dict[int, float]:
    if connections[accepted.db].vendor == "postgresql":
        rows = accepted.values_list("partner_id").annotate(
            median=Median(F("accepted_at") - F("sent_at"), output_field=DurationField())
        )
        return {pk: median.total_seconds() / 3600 for pk, median in rows if median is not None}
    waits: dict[int, list[float]] = defaultdict(list)
    for pk, sent_at, accepted_at in accepted.values_list("partner_id", "sent_at", "accepted_at"):
        waits[pk].append((accepted_at - sent_at).total_seconds() / 3600)
    return {pk: statistics.median(hours) for pk, hours in waits.items()}


@dataclass(frozen=True)
class AgreementView:
    agreement: FeeAgreement
    current: bool
    terms: str
    tiers: list[tuple[int, str]]  # (from this many a month, the terms then)


def partner_agreements(*, partner: Partner, today: date | None = None) -> list[AgreementView]:
    """The partner's agreements (prefetched by `partner_detail()`), newest first, the one in force marked."""
    today = today or timezone.localdate()
    views = []
    for agreement in partner.agreements.all():
        terms = matching.agreement_terms(agreement)
        current = agreement.valid_from <= today and (agreement.valid_to is None or agreement.valid_to >= today)
        tiers = [
            (t.min_monthly_referrals, replace(terms.at_volume(t.min_monthly_referrals), tier=None).describe())
            for t in terms.tiers
        ]
        views.append(AgreementView(agreement, current, terms.at_volume(1).describe(), tiers))
    return views


def partner_criteria(*, partner: Partner) -> list[dict]:
    """Acceptance criteria (prefetched) for display: label, field, operator and value in words, and what is
    wrong with a broken stored one (matching cannot tell on it)."""
    rule_set = matching.partner_rule_set(partner.criteria.all())
    defects = {rule.id: rule.defect for rule in rule_set.rules} if rule_set else {}
    return [
        {
            "label": c.label,
            "field": c.field,
            "operator": c.get_operator_display(),
            "value": _value_text(c.value),
            "defect": defects.get(c.pk, ""),
        }
        for c in partner.criteria.all()
    ]


def _value_text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def partner_recent_referrals(*, partner: Partner, limit: int = 20) -> QuerySet[Referral]:
    return partner.referrals.select_related("lead").order_by(F("sent_at").desc(nulls_last=True), "-id")[:limit]


def agreement_for_edit() -> QuerySet[FeeAgreement]:
    return (
        FeeAgreement.objects.select_related("partner")
        .prefetch_related("tiers")
        .annotate(referral_count=Count("referrals"))
    )


# Referrals -----------------------------------------------------------------------------------------------


def referral_list() -> QuerySet[Referral]:
    return Referral.objects.select_related("lead", "partner")


def referral_detail() -> QuerySet[Referral]:
    return Referral.objects.select_related("lead", "partner", "fee_agreement", "created_by")


def referral_terms_text(referral: Referral) -> str:
    if not referral.fee_terms:
        return "No fee agreement was in force when it was sent: no fees."
    return fees.Terms.from_snapshot(referral.fee_terms).describe()


def referral_accruals(*, referral: Referral) -> tuple[list[FeeAccrual], list[tuple[str, Decimal]]]:
    """The referral's ledger rows, oldest first, and their total per currency."""
    rows = list(referral.accruals.order_by("occurred_at", "id"))
    totals: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for row in rows:
        totals[row.currency] += row.amount
    return rows, sorted(totals.items())


def referral_messages(*, referral: Referral):
    return referral.messages.order_by("created_at", "id")


def referral_actions(referral: Referral) -> tuple[str, ...]:
    """The outcomes that may be recorded now. A signpost is never accepted or declined: it converts or is lost."""
    if referral.mode == ReferralMode.INTRODUCE:
        return {
            ReferralStatus.SENT: ("accept", "decline"),
            ReferralStatus.ACCEPTED: ("convert", "lose"),
        }.get(referral.status, ())
    return ("convert", "lose") if referral.status == ReferralStatus.SENT else ()


# Referring a lead ----------------------------------------------------------------------------------------


def lead_for_referral() -> QuerySet[Lead]:
    return Lead.objects.select_related("primary_reason", "source")


def lead_referrals(*, lead: Lead) -> QuerySet[Referral]:
    return lead.referrals.select_related("partner").order_by(F("sent_at").desc(nulls_last=True), "-id")


def excluded_text(excluded: dict[str, int]) -> str:
    """ "3 partners left out: 2 at capacity, 1 turned it down before" (empty when nobody was left out)."""
    total = sum(excluded.values())
    if not total:
        return ""
    parts = ", ".join(f"{count} {why}" for why, count in excluded.items() if count)
    return f"{total} partner{'' if total == 1 else 's'} left out: {parts}"
