"""Fee agreements: what a partner pays us, one agreement in force per day."""

from datetime import date

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from common.errors import ServiceError
from common.money import CURRENCY_CODES
from partners.models import (
    FeeAgreement,
    FeeTier,
    Partner,
)
from partners.services import hooks


class FeeAgreementError(ServiceError):
    """An agreement that may not be saved; `errors` maps a field to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("", errors)


def _overlaps(agreement: FeeAgreement) -> bool:
    others = FeeAgreement.objects.filter(partner_id=agreement.partner_id).exclude(pk=agreement.pk)
    if agreement.valid_to is not None:
        others = others.filter(valid_from__lte=agreement.valid_to)
    return others.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=agreement.valid_from)).exists()


@transaction.atomic
def fee_agreement_save(*, agreement: FeeAgreement, tiers: list[dict] | None = None, user=None) -> FeeAgreement:
    """Create or change an agreement (and replace its tiers). One agreement in force per partner per day.

    Referrals already sent keep the terms they were sent under (their snapshot); only later ones change."""
    Partner.objects.select_for_update().get(pk=agreement.partner_id)  # serialises agreement writes per partner
    errors: dict[str, list[str]] = {}
    if agreement.valid_to is not None and agreement.valid_to < agreement.valid_from:
        errors["valid_to"] = ["The last day is before the first day."]
    elif _overlaps(agreement):
        errors["valid_from"] = ["Overlaps another agreement with this partner; end that one first (set its last day)."]
    if agreement.percent_cap is not None and not agreement.percent_of_deal:
        errors["percent_cap"] = ["A cap only applies with a percentage of the deal."]
    if agreement.currency.upper() not in CURRENCY_CODES:  # ISO 4217: "pounds" or "POU" is not a currency
        errors["currency"] = ["Use an ISO 4217 currency code such as EUR."]
    thresholds = [t["min_monthly_referrals"] for t in tiers or []]
    if len(thresholds) != len(set(thresholds)):
        errors["tiers"] = ["Two tiers start at the same monthly volume."]
    elif any(n is None or n < 2 for n in thresholds):
        errors["tiers"] = ["A tier starts from the 2nd referral of the month or later (the 1st is the base terms)."]
    if errors:
        raise FeeAgreementError(errors)
    agreement.currency = agreement.currency.upper()
    created = agreement.pk is None
    before = {} if created else _audited(FeeAgreement.objects.prefetch_related("tiers").get(pk=agreement.pk))
    if created:
        agreement.created_by = user if user is not None and user.is_authenticated else None
    agreement.save()
    if tiers is not None:
        agreement.tiers.all().delete()
        FeeTier.objects.bulk_create(FeeTier(agreement=agreement, **tier) for tier in tiers)
    after = _audited(FeeAgreement.objects.prefetch_related("tiers").get(pk=agreement.pk))
    changes = {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}
    if created or changes:
        ended = not created and "valid_to" in changes and after["valid_to"] is not None
        action = "created" if created else "ended" if ended else "changed"
        hooks.notify(
            hooks.AGREEMENT_SAVED, agreement=agreement, action=action, changes=changes, actor=user, now=timezone.now()
        )
    return agreement


AUDITED_FIELDS = (
    "currency",
    "per_referral",
    "per_accepted",
    "per_conversion",
    "percent_of_deal",
    "percent_cap",
    "payment_terms_days",
    "valid_from",
    "valid_to",
    "notes",
)


def _audited(agreement: FeeAgreement) -> dict:
    """The agreement's terms as plain text values (for the audit trail's old -> new), tiers included."""
    values = {name: _text(getattr(agreement, name)) for name in AUDITED_FIELDS}
    values["tiers"] = "; ".join(
        f"from {tier.min_monthly_referrals}: "
        + ", ".join(f"{name} {_text(getattr(tier, name))}" for name in TIER_FIELDS if getattr(tier, name) is not None)
        for tier in sorted(agreement.tiers.all(), key=lambda t: t.min_monthly_referrals)
    )
    return values


TIER_FIELDS = ("per_referral", "per_accepted", "per_conversion", "percent_of_deal")


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def fee_agreement_in_force(*, partner: Partner, day: date) -> FeeAgreement | None:
    return (
        FeeAgreement.objects.filter(partner=partner, valid_from__lte=day)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day))
        .prefetch_related("tiers")
        .first()
    )
