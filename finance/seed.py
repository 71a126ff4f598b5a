"""Demo finance history, made through the real services so every finance page is alive on first login: fees going
back two months, payments (one paying in full, one partial, one over-payment kept as credit, one that bounced),
a write-off and an adjustment, last month closed, and a payment recorded after the close (posted on the first open
day). Runs once: skipped when any payment exists.

To extend it (partner statements, reconciliation), add a step to `STEPS`: a function taking the `Demo` context.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from finance import selectors, services
from finance.models import Payment
from finance.seed_statements import seed_statements
from leads.models import Lead, LeadStatus
from outbox.models import MessageStatus, OutboundMessage
from partners import matching
from partners import services as partner_services
from partners.models import BILLABLE_KINDS, FeeAccrual, Partner, Referral
from partners.services import ReferralError

LABEL = "seed_demo"


@dataclass
class Demo:
    """What the steps share: the clock, a seeded random generator, the acting user, and what they made."""

    now: datetime
    rng: random.Random
    actor: object | None
    made: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.made[what] = self.made.get(what, 0) + n


def _older_fees(demo: Demo, *, limit: int = 14) -> None:
    """Conversions 45–60 days ago (the referral history covers the last weeks), so the books span two months."""
    leads = Lead.objects.filter(
        external_id__startswith="demo-",
        status__in=[LeadStatus.DISQUALIFIED, LeadStatus.NEEDS_REVIEW],
        received_at__lt=demo.now - timedelta(days=47),
        referrals__isnull=True,
    ).select_related("primary_reason", "source")[: limit * 4]
    matching.catalogue_reset()
    made = 0
    for lead in leads:
        if made >= limit:
            break
        back = timedelta(days=demo.rng.randint(45, 60), hours=demo.rng.randint(0, 12))
        sent_at = max(lead.received_at + timedelta(hours=6), demo.now - back)
        result = matching.matches_for_lead(lead, limit=1, now=sent_at)
        if not result.matches:
            continue
        partner = Partner.objects.get(pk=result.matches[0].partner.id)
        mode = "introduce" if lead.has_partner_sharing_consent else "signpost"
        label = f"partner:{partner.slug}"
        try:
            referral = partner_services.referral_send(
                lead=lead, partner=partner, mode=mode, actor_label=LABEL, now=sent_at
            )
            if mode == "introduce":
                partner_services.referral_accept(referral=referral, actor_label=label, now=sent_at + timedelta(hours=5))
            currency = referral.fee_terms.get("currency", "GBP")
            deal = Decimal(demo.rng.randint(4, 200) * 50)
            partner_services.referral_convert(
                referral=referral,
                deal_value=deal,
                currency=currency,
                actor_label=label,
                now=sent_at + timedelta(days=2),
            )
        except ReferralError:
            continue
        made += 1
    # History: these emails went out at the time.
    OutboundMessage.objects.filter(status=MessageStatus.QUEUED).update(status=MessageStatus.SENT, sent_at=demo.now)
    demo.count("older conversions", made)


def _open_by_partner() -> list[tuple[Partner, str, Decimal]]:
    """Partners with open fees, most owed first: (partner, currency, open total)."""
    rows = selectors.aging(as_of=timezone.localdate())
    partners = {p.pk: p for p in Partner.objects.filter(pk__in=[row.partner_id for row in rows])}
    owed = [(partners[row.partner_id], row.currency, row.open_total) for row in rows if row.open_total > 0]
    return sorted(owed, key=lambda entry: -entry[2])


def _payments(demo: Demo) -> None:
    """In full, partial, over (credit), and one that bounced — each allocated oldest due first."""
    owed = _open_by_partner()
    plans = [("full", Decimal("1")), ("partial", Decimal("0.5")), ("over", Decimal("1")), ("bounced", Decimal("0.3"))]
    for n, ((kind, share), (partner, currency, total)) in enumerate(zip(plans, owed, strict=False)):
        amount = (total * share).quantize(Decimal("1")) if share < 1 else total
        if kind == "over":
            amount += Decimal("150.00")
        amount = max(amount, Decimal("1.00"))
        received = timezone.localdate(demo.now) - timedelta(days=3 + 4 * n)
        payment = services.payment_record(
            partner=partner,
            amount=amount.quantize(Decimal("0.01")),
            currency=currency,
            received_on=received,
            reference=f"BANK-{received:%m%d}-{n + 1:02d}",
            note={"full": "Settles the open fees", "partial": "First instalment", "over": "Paid on account"}.get(
                kind, ""
            ),
            actor=demo.actor,
            actor_label=LABEL,
        )
        services.payment_allocate_auto(payment=payment, actor=demo.actor, actor_label=LABEL)
        if kind == "bounced":
            services.payment_bounce(
                payment=payment, reason="Returned by the bank: account closed", actor=demo.actor, actor_label=LABEL
            )
        demo.count("payments")


def _corrections(demo: Demo) -> None:
    """A small old fee written off, and a negotiated discount on a share of a deal."""
    still_open = selectors.with_item_open(FeeAccrual.objects.filter(kind__in=BILLABLE_KINDS)).filter(item_open__gt=0)
    small = still_open.filter(kind__in=["sent", "accepted"]).order_by("due_on", "id").first()
    if small is not None:
        services.accrual_write_off(
            accrual=small, reason="Too small to chase; the partner closed the account", actor=demo.actor
        )
        demo.count("write-offs")
    share = still_open.filter(kind="conversion_percent", amount__gte=20).order_by("-due_on", "id").first()
    if share is not None:
        services.accrual_adjust(
            accrual=share,
            amount=-(share.amount / 10).quantize(Decimal("0.01")),
            reason="10% discount agreed with the partner for a slow month",
            actor=demo.actor,
        )
        demo.count("adjustments")


def _close_last_month(demo: Demo) -> None:
    last_day = timezone.localdate(demo.now).replace(day=1) - timedelta(days=1)
    services.period_lock(month=last_day, actor=demo.actor, actor_label=LABEL, now=demo.now)
    demo.count("months closed")


def _late_payment(demo: Demo) -> None:
    """A payment that arrived last month, recorded after the close: posted on the first open day, and says so."""
    owed = _open_by_partner()
    if not owed:
        return
    partner, currency, total = owed[-1]
    received = timezone.localdate(demo.now).replace(day=1) - timedelta(days=2)
    payment = services.payment_record(
        partner=partner,
        amount=min(total, Decimal("40.00")),
        currency=currency,
        received_on=received,
        reference=f"LATE-{received:%m%d}",
        note="Found on last month's bank statement",
        actor=demo.actor,
        actor_label=LABEL,
    )
    services.payment_allocate_auto(payment=payment, actor=demo.actor, actor_label=LABEL)
    demo.count("payments")


STEPS: list[Callable[[Demo], None]] = [
    _older_fees, _payments, _corrections, _close_last_month, _late_payment, seed_statements,
]  # fmt: skip


@transaction.atomic
def seed_finance(*, seed: int = 20261203, now: datetime | None = None) -> dict[str, int]:
    """Run every step once; returns what was made ({} when the books were seeded before or hold no fees)."""
    if Payment.objects.exists() or not Referral.objects.exists():
        return {}
    actor = get_user_model().objects.filter(username="finance").first()
    demo = Demo(now=now or timezone.now(), rng=random.Random(seed), actor=actor)
    for step in STEPS:
        step(demo)
    return demo.made
