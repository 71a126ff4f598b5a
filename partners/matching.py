"""Which partners fit a lead, best first, each with the why.

Two parts. `rank()` is pure: partner cards and the lead's values in, ranked matches out. `matches_for_lead()`
feeds it: the partner catalogue (partners, criteria, terms and historical rates) is built once per process
and rebuilt when any partner or agreement changes (one cheap query checks), so a lead costs four small
queries whatever the number of partners: the catalogue stamp (two aggregates), this month's volumes, the
lead's referrals.

Excluded outright: paused and ended partners, partners at capacity this month, partners who declined this
lead before and partners with an open referral for it. Partners whose criteria or region rule the lead out
are not suggested; they are counted, so the page can say why the list is short.
"""

import threading
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q
from django.utils import timezone

from leads import engine
from partners.fees import Terms, Tier, expected_fee
from partners.models import (
    OPEN_REFERRAL_STATUSES,
    FeeAgreement,
    Partner,
    PartnerStatus,
    Referral,
    ReferralMode,
    ReferralStatus,
)

HISTORY_TTL_SECONDS = 600  # acceptance/conversion rates in the catalogue may be up to ten minutes old
GRADE_WEIGHT = {"A": 1.0, "B": 0.7, "C": 0.4}
WEIGHTS = {"region": 30, "reason": 25, "acceptance": 20, "conversion": 15, "grade": 10}
UNKNOWN_CRITERIA_FACTOR = 0.8


@dataclass(frozen=True)
class PartnerCard:
    """What matching needs to know about one active or paused partner."""

    id: int
    name: str
    kind: str
    status: str
    grade: str
    countries: frozenset[str]
    point: tuple[Decimal, Decimal, Decimal] | None  # lat, lon, radius km
    reason_codes: frozenset[str]  # empty = any reason
    rule_set: engine.RuleSet | None
    monthly_capacity: int | None
    terms: Terms | None
    sent: int  # introductions in the last year, for the rates
    accepted: int
    decided: int  # accepted + declined + expired
    converted: int


@dataclass(frozen=True)
class Match:
    partner: PartnerCard
    score: int
    region: str  # "in", "anywhere", "unknown", "out"
    region_text: str
    reason_fit: bool
    criteria: str  # "pass", "unknown", "fail", "none"
    criteria_results: tuple[engine.RuleResult, ...]
    capacity_left: int | None
    acceptance_rate: float
    conversion_rate: float
    terms: Terms | None
    expected_fee: Decimal | None

    @property
    def eligible(self) -> bool:
        return self.region != "out" and self.criteria != "fail"

    def explanation(self) -> dict[str, Any]:
        """JSON-safe, stored on the referral when it is sent (why this partner, at the time)."""
        return {
            "score": self.score,
            "region": self.region_text,
            "reason_fit": self.reason_fit,
            "criteria": self.criteria,
            "criteria_detail": [
                {"label": r.rule.label, "outcome": r.outcome, "actual": _jsonable(r.actual), "required": r.required}
                for r in self.criteria_results
            ],
            "capacity_left": self.capacity_left,
            "acceptance_rate": round(self.acceptance_rate, 3),
            "conversion_rate": round(self.conversion_rate, 3),
            "expected_fee": None if self.expected_fee is None else str(self.expected_fee),
            "currency": self.terms.currency if self.terms else "",
            "terms": self.terms.describe() if self.terms else "no fee agreement in force",
        }


@dataclass(frozen=True)
class MatchResult:
    matches: list[Match]
    excluded: dict[str, int]  # why partners were left out -> how many


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def acceptance_rate(card: PartnerCard) -> float:
    """Accepted / decided, pulled towards 50% while there is little history (2 of 4 as a prior)."""
    return (card.accepted + 2) / (card.decided + 4)


def conversion_rate(card: PartnerCard) -> float:
    """Converted / accepted, with a prior of 1 in 5."""
    return (card.converted + 1) / (card.accepted + 5)


def _region(card: PartnerCard, values: dict[str, Any]) -> tuple[str, str]:
    if not card.countries and card.point is None:
        return "anywhere", "serves anywhere"
    country = (values.get("country") or "").upper()
    if country and country in card.countries:
        return "in", f"serves {country}"
    if card.point is not None:
        lat, lon = values.get("latitude"), values.get("longitude")
        if lat is not None and lon is not None:
            km = engine.distance_km(lat, lon, float(card.point[0]), float(card.point[1]))
            if km <= float(card.point[2]):
                return "in", f"{km:.0f} km away (serves {card.point[2].normalize():f} km)"
            return "out", f"{km:.0f} km away, beyond its {card.point[2].normalize():f} km"
        if not card.countries or not country:
            return "unknown", "location unknown"
    if not country:
        return "unknown", "country unknown"
    return "out", f"does not serve {country}"


def _criteria(card: PartnerCard, values: dict[str, Any]) -> tuple[str, tuple[engine.RuleResult, ...]]:
    if card.rule_set is None:
        return "none", ()
    verdict = engine.evaluate(card.rule_set, values)
    outcomes = {r.outcome for r in verdict.results}
    if engine.FAIL in outcomes:
        return "fail", verdict.results
    return ("unknown" if engine.UNKNOWN in outcomes else "pass"), verdict.results


def rank(
    cards: list[PartnerCard],
    values: dict[str, Any],
    *,
    reason_code: str | None,
    month_volume: dict[int, int],
    declined: set[int],
    open_referrals: set[int],
    limit: int = 5,
) -> MatchResult:
    """Rank partners for a lead. Cheap components first; criteria are only evaluated for the best
    candidates, in score order, until `limit` eligible partners are found."""
    excluded = {"paused or ended": 0, "at capacity": 0, "turned it down before": 0, "already referred": 0}
    excluded.update({"outside their region": 0, "fails their criteria": 0})
    budget = values.get("budget")
    deal_value = budget if isinstance(budget, Decimal) else None
    candidates = []
    for card in cards:
        if card.status != "active":
            excluded["paused or ended"] += 1
            continue
        if card.id in declined:
            excluded["turned it down before"] += 1
            continue
        if card.id in open_referrals:
            excluded["already referred"] += 1
            continue
        volume = month_volume.get(card.id, 0)
        left = None if card.monthly_capacity is None else card.monthly_capacity - volume
        if left is not None and left <= 0:
            excluded["at capacity"] += 1
            continue
        region, region_text = _region(card, values)
        if region == "out":
            excluded["outside their region"] += 1
            continue
        reason_fit = not card.reason_codes or (reason_code in card.reason_codes)
        accept, convert = acceptance_rate(card), conversion_rate(card)
        score = (
            WEIGHTS["region"] * {"in": 1.0, "anywhere": 0.8, "unknown": 0.5}[region]
            + WEIGHTS["reason"] * (1.0 if reason_fit else 0.2)
            + WEIGHTS["acceptance"] * accept
            + WEIGHTS["conversion"] * convert
            + WEIGHTS["grade"] * GRADE_WEIGHT.get(card.grade, 0.5)
        )
        candidates.append((score, card, region, region_text, reason_fit, left, accept, convert, volume))
    candidates.sort(key=lambda c: (-c[0], c[1].name))
    kept: list[tuple[float, Match]] = []  # (unrounded final score, match), best first, at most `limit`
    for score, card, region, region_text, reason_fit, left, accept, convert, volume in candidates:
        # Scores only go down once criteria are known (unknown costs 20%), and candidates come best first:
        # once this one's score cannot beat the weakest kept match, no later one can either.
        if len(kept) >= limit and score < kept[-1][0]:
            break
        criteria, results = _criteria(card, values)
        if criteria == "fail":
            excluded["fails their criteria"] += 1
            continue
        if criteria == "unknown":
            score *= UNKNOWN_CRITERIA_FACTOR
        terms = card.terms.at_volume(volume + 1) if card.terms else None
        fee = None
        if terms is not None:
            usable_deal = deal_value if values.get("budget_currency") == terms.currency else None
            fee = expected_fee(terms, accept_rate=accept, convert_rate=convert, deal_value=usable_deal)
        match = Match(
            card, round(score), region, region_text, reason_fit, criteria, results, left, accept, convert, terms, fee
        )
        kept.append((score, match))
        kept.sort(key=lambda k: (-k[0], -(k[1].expected_fee or 0), k[1].partner.name))
        del kept[limit:]
    matches = [match for _, match in kept]
    return MatchResult(matches=matches, excluded={k: v for k, v in excluded.items() if v})


# The catalogue -------------------------------------------------------------------------------------------


class _Catalogue:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stamp: tuple | None = None
        self.day: date | None = None
        self.built_at: datetime | None = None
        self.cards: list[PartnerCard] = []


_catalogue = _Catalogue()


def catalogue_stamp() -> tuple:
    """Changes whenever a partner, its criteria (saved with it), or an agreement changes."""
    partners = Partner.objects.aggregate(n=Count("id"), at=Max("updated_at"))
    agreements = FeeAgreement.objects.aggregate(n=Count("id"), at=Max("updated_at"))
    return (partners["n"], partners["at"], agreements["n"], agreements["at"])


def agreement_terms(agreement) -> Terms:
    """An agreement's terms (with its tiers) as the pure fee module sees them."""
    return Terms(
        currency=agreement.currency,
        per_referral=agreement.per_referral,
        per_accepted=agreement.per_accepted,
        per_conversion=agreement.per_conversion,
        percent_of_deal=agreement.percent_of_deal,
        percent_cap=agreement.percent_cap,
        payment_terms_days=agreement.payment_terms_days,
        agreement_id=agreement.pk,
        tiers=tuple(
            Tier(t.min_monthly_referrals, t.per_referral, t.per_accepted, t.per_conversion, t.percent_of_deal)
            for t in agreement.tiers.all()
        ),
    )


def partner_rule_set(criteria) -> engine.RuleSet | None:
    """A partner's acceptance criteria as a rule set of knock-outs (each must hold)."""
    rules = tuple(
        engine.Rule(
            id=c.pk,
            field=c.field,
            operator=c.operator,
            value=c.value,
            value_type=c.value_type,
            hard=True,
            weight=0,
            label=c.label,
        )
        for c in criteria
    )
    return engine.RuleSet(rules=rules, qualified_min=0, review_min=0) if rules else None


def country_codes(countries: Any) -> frozenset[str]:
    """The partner's countries, upper case. A bad stored value (one code as text, an object, a number) is read
    for the codes it names, never as "anywhere" (the admin shows it as not an ISO code until it is fixed)."""
    if isinstance(countries, dict):
        countries = list(countries)
    elif not isinstance(countries, list):
        countries = [] if countries in (None, "") else [countries]
    return frozenset(str(code).strip().upper() for code in countries)


def build_cards(today: date) -> list[PartnerCard]:
    partners = list(
        Partner.objects.exclude(status=PartnerStatus.ENDED).prefetch_related("criteria", "accepted_reasons")
    )
    agreements = {
        a.partner_id: a
        for a in FeeAgreement.objects.filter(valid_from__lte=today)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        .prefetch_related("tiers")
    }
    year_ago = timezone.now() - timezone.timedelta(days=365)
    stats = {
        row["partner_id"]: row
        for row in Referral.objects.filter(mode=ReferralMode.INTRODUCE, sent_at__gte=year_ago)
        .values("partner_id")
        .annotate(
            sent=Count("id"),
            accepted=Count(
                "id", filter=Q(status__in=[ReferralStatus.ACCEPTED, ReferralStatus.CONVERTED, ReferralStatus.LOST])
            ),
            refused=Count("id", filter=Q(status__in=[ReferralStatus.DECLINED, ReferralStatus.EXPIRED])),
            converted=Count("id", filter=Q(status=ReferralStatus.CONVERTED)),
        )
    }
    cards = []
    for p in partners:
        row = stats.get(p.pk, {})
        point = (p.latitude, p.longitude, p.radius_km) if p.radius_km is not None else None
        cards.append(
            PartnerCard(
                id=p.pk,
                name=p.name,
                kind=p.kind,
                status=p.status,
                grade=p.grade,
                countries=country_codes(p.countries),
                point=point,
                reason_codes=frozenset(r.code for r in p.accepted_reasons.all()),
                rule_set=partner_rule_set(p.criteria.all()),
                monthly_capacity=p.monthly_capacity,
                terms=agreement_terms(agreements[p.pk]) if p.pk in agreements else None,
                sent=row.get("sent", 0),
                accepted=row.get("accepted", 0),
                decided=row.get("accepted", 0) + row.get("refused", 0),
                converted=row.get("converted", 0),
            )
        )
    return cards


def catalogue(*, now: datetime | None = None) -> list[PartnerCard]:
    """The cached partner cards; rebuilt when the stamp or the day changes (agreements start and end
    by date) or when the history is more than `HISTORY_TTL` old."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    stamp = catalogue_stamp()
    with _catalogue.lock:
        fresh = _catalogue.stamp == stamp and _catalogue.day == today and _catalogue.built_at is not None
        if not fresh or (now - _catalogue.built_at).total_seconds() > HISTORY_TTL_SECONDS:
            _catalogue.cards = build_cards(today)
            _catalogue.stamp, _catalogue.day, _catalogue.built_at = stamp, today, now
        return _catalogue.cards


def catalogue_reset() -> None:
    with _catalogue.lock:
        _catalogue.stamp = None


def month_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_volumes(now: datetime) -> dict[int, int]:
    """Referrals sent to each partner this calendar month (introductions and signposts alike)."""
    rows = Referral.objects.filter(sent_at__gte=month_start(now)).values_list("partner_id").annotate(n=Count("id"))
    return dict(rows)


def matches_for_lead(lead, *, limit: int = 5, now: datetime | None = None) -> MatchResult:
    now = now or timezone.now()
    cards = catalogue(now=now)
    declined, open_referrals = set(), set()
    for partner_id, status in lead.referrals.values_list("partner_id", "status"):
        if status in (ReferralStatus.DECLINED, ReferralStatus.EXPIRED):  # never offered to them again
            declined.add(partner_id)
        elif status in OPEN_REFERRAL_STATUSES:
            open_referrals.add(partner_id)
    return rank(
        cards,
        engine.lead_values(lead),
        reason_code=lead.primary_reason.code if lead.primary_reason_id else None,
        month_volume=month_volumes(now),
        declined=declined,
        open_referrals=open_referrals,
        limit=limit,
    )
