"""Partner firms, the fees they pay us, the referrals we send them and the fee ledger.

Money is Decimal beside a currency code; the ledger (FeeAccrual) is append-only.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from common.money import DECIMAL_SEPARATOR_CHOICES
from leads.models import Operator, ValueType


class PartnerKind(models.TextChoices):
    LENDER = "lender", "Alternative lender"
    CREDIT_REPAIR = "credit_repair", "Credit-repair service"
    BRAND = "brand", "Brand or retailer"
    SOFTWARE = "software", "Software vendor"
    CONSULTANCY = "consultancy", "Consultancy or agency"
    GYM = "gym", "Gym or studio"
    TRAINING = "training", "Training provider"
    OTHER = "other", "Other"


class PartnerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ENDED = "ended", "Ended"


class Grade(models.TextChoices):
    A = "A", "A: preferred"
    B = "B", "B: standard"
    C = "C", "C: occasional"


class Partner(models.Model):
    """A firm we refer leads to. Where it works, whom it accepts and how many a month."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=20, choices=PartnerKind.choices, default=PartnerKind.OTHER)
    status = models.CharField(max_length=10, choices=PartnerStatus.choices, default=PartnerStatus.ACTIVE)
    grade = models.CharField(max_length=1, choices=Grade.choices, default=Grade.B)
    description = models.TextField(blank=True, help_text="What they do, in a sentence or two (shown to leads).")
    website = models.URLField(blank=True)
    public_email = models.EmailField(blank=True, help_text="How a signposted lead reaches them.")
    public_phone = models.CharField(max_length=50, blank=True)
    # Where they work: countries, and/or a radius around a point. Neither = anywhere.
    countries = models.JSONField(default=list, blank=True, help_text='ISO codes served, e.g. ["GB", "IE"].')
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    radius_km = models.DecimalField(max_digits=7, decimal_places=1, null=True, blank=True)
    accepted_reasons = models.ManyToManyField(
        "leads.DisqualificationReason",
        blank=True,
        related_name="partners",
        help_text="Why-not-us reasons they are a good answer to. None = any.",
    )
    monthly_capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Referrals (introductions and signposts) a calendar month; blank = no limit."
    )
    acceptance_window_hours = models.PositiveIntegerField(
        default=72, help_text="How long they have to accept an introduction before it is re-offered."
    )
    decimal_separator = models.CharField(
        max_length=1,
        choices=DECIMAL_SEPARATOR_CHOICES,
        default=".",
        help_text="How they write amounts: read so in their deal values, our fee forms and their statements.",
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(latitude__isnull=True) & Q(longitude__isnull=True) & Q(radius_km__isnull=True))
                | (Q(latitude__isnull=False) & Q(longitude__isnull=False) & Q(radius_km__gt=0)),
                name="partner_radius_complete",
            ),
            models.CheckConstraint(condition=Q(acceptance_window_hours__gte=1), name="partner_window_positive"),
            models.CheckConstraint(
                condition=Q(decimal_separator__in=[".", ","]), name="partner_decimal_separator_known"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("partners:detail", args=[self.pk])

    @property
    def region_display(self) -> str:
        parts = []
        if self.countries:
            codes = self.countries if isinstance(self.countries, list) else [self.countries]  # a bad stored value
            parts.append(", ".join(str(code) for code in codes))
        if self.radius_km is not None:
            parts.append(f"within {self.radius_km.normalize():f} km of {self.latitude}, {self.longitude}")
        return "; ".join(parts) or "anywhere"


class PartnerContact(models.Model):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=50, blank=True)
    role = models.CharField(max_length=100, blank=True)
    receives_introductions = models.BooleanField(default=True, help_text="Introductions are emailed to them.")

    class Meta:
        ordering = ["partner", "-receives_introductions", "name"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class PartnerCriterion(models.Model):
    """One thing a partner requires of a lead, on the ICP's rule engine (all must hold)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="criteria")
    position = models.PositiveSmallIntegerField(default=0)
    label = models.CharField(max_length=200)
    field = models.CharField(max_length=100, help_text="A lead field or attributes.<key>.")
    operator = models.CharField(max_length=12, choices=Operator.choices)
    value = models.JSONField(null=True, blank=True)
    value_type = models.CharField(max_length=10, choices=ValueType.choices, default=ValueType.TEXT)

    class Meta:
        ordering = ["partner", "position", "id"]
        verbose_name = "acceptance criterion"
        verbose_name_plural = "acceptance criteria"

    def __str__(self) -> str:
        return self.label


class FeeAgreement(models.Model):
    """What a partner pays us, valid for a date range. Terms are copied onto each referral when sent."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="agreements")
    currency = models.CharField(max_length=3)
    per_referral = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    per_accepted = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    per_conversion = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    percent_of_deal = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    percent_cap = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, help_text="Most the percentage can earn per deal."
    )
    payment_terms_days = models.PositiveSmallIntegerField(default=30)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True, help_text="Last day in force; blank = open-ended.")
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partner", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="feeagreement_dates_ordered",
                violation_error_message="The last day is before the first day.",
            ),
            models.CheckConstraint(
                condition=Q(per_referral__gte=0)
                & Q(per_accepted__gte=0)
                & Q(per_conversion__gte=0)
                & Q(percent_of_deal__gte=0)
                & Q(percent_of_deal__lte=100)
                & (Q(percent_cap__isnull=True) | Q(percent_cap__gte=0)),
                name="feeagreement_amounts_valid",
                violation_error_message="Amounts cannot be negative, and the share of the deal is 0-100%.",
            ),
        ]

    def __str__(self) -> str:
        until = f"{self.valid_to:%Y-%m-%d}" if self.valid_to else "open"
        return f"{self.partner} {self.currency} from {self.valid_from:%Y-%m-%d} to {until}"


class FeeTier(models.Model):
    """Volume pricing: from the Nth referral to the partner in a calendar month, these amounts apply."""

    agreement = models.ForeignKey(FeeAgreement, on_delete=models.CASCADE, related_name="tiers")
    min_monthly_referrals = models.PositiveIntegerField(help_text="Applies from this many referrals in the month.")
    per_referral = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    per_accepted = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    per_conversion = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    percent_of_deal = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["agreement", "min_monthly_referrals"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "min_monthly_referrals"], name="feetier_unique_threshold"),
            models.CheckConstraint(
                condition=Q(min_monthly_referrals__gte=2),
                name="feetier_threshold_above_one",
                violation_error_message="A tier starts from the 2nd referral of the month or later.",
            ),
        ]

    def __str__(self) -> str:
        return f"from {self.min_monthly_referrals} a month"


class ReferralMode(models.TextChoices):
    INTRODUCE = "introduce", "Introduce (their details go to the partner)"
    SIGNPOST = "signpost", "Signpost (they get the partner's details)"


class ReferralStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SENT = "sent", "Sent"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"
    CONVERTED = "converted", "Converted"
    LOST = "lost", "Lost"


OPEN_REFERRAL_STATUSES = (ReferralStatus.DRAFT, ReferralStatus.SENT, ReferralStatus.ACCEPTED)


class Referral(models.Model):
    lead = models.ForeignKey("leads.Lead", on_delete=models.PROTECT, related_name="referrals")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="referrals")
    mode = models.CharField(max_length=10, choices=ReferralMode.choices)
    status = models.CharField(max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.DRAFT)
    tracking_code = models.CharField(max_length=20, unique=True)
    link_key = models.CharField(max_length=32, editable=False, help_text="Signed into the partner's link.")
    fee_agreement = models.ForeignKey(
        FeeAgreement, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals"
    )
    fee_terms = models.JSONField(default=dict, blank=True, help_text="The terms in force when it was sent.")
    match = models.JSONField(default=dict, blank=True, help_text="Why this partner was suggested, at the time.")
    note = models.TextField(blank=True, help_text="Our note to the partner.")
    sent_at = models.DateTimeField(null=True, blank=True)
    respond_by = models.DateTimeField(null=True, blank=True, help_text="Acceptance window end (introductions).")
    reminded_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=300, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    deal_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    deal_currency = models.CharField(max_length=3, blank=True)
    lost_at = models.DateTimeField(null=True, blank=True)
    lost_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        permissions = [
            ("record_outcome", "Can record a partner's answer or outcome on its behalf"),
            ("reverse_conversion", "Can reverse a conversion (negative fee rows)"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "partner"],
                condition=Q(status__in=["draft", "sent", "accepted"]),
                name="referral_one_open_per_lead_partner",
            ),
            models.CheckConstraint(
                condition=Q(deal_value__isnull=True) | Q(deal_value__gte=0), name="referral_deal_value_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "sent_at"], name="referral_partner_sent"),
            models.Index(fields=["status", "respond_by"], name="referral_status_respond_by"),
            models.Index(fields=["lead", "status"], name="referral_lead_status"),
            models.Index(fields=["sent_at"], name="referral_sent_at"),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_code} → {self.partner}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("partners:referral", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_REFERRAL_STATUSES


class AccrualKind(models.TextChoices):
    SENT = "sent", "Referral sent"
    ACCEPTED = "accepted", "Referral accepted"
    CONVERSION = "conversion", "Conversion (flat)"
    CONVERSION_PERCENT = "conversion_percent", "Conversion (share of deal)"
    REVERSAL = "reversal", "Reversal"
    ADJUSTMENT = "adjustment", "Adjustment"
    WRITE_OFF = "write_off", "Write-off"


# A billable row is an item the partner owes; a correction points at the item it corrects (never at another
# correction). An item's amount due is its own amount plus its corrections' (see finance for what was paid).
BILLABLE_KINDS = (AccrualKind.SENT, AccrualKind.ACCEPTED, AccrualKind.CONVERSION, AccrualKind.CONVERSION_PERCENT)
CORRECTION_KINDS = (AccrualKind.REVERSAL, AccrualKind.ADJUSTMENT, AccrualKind.WRITE_OFF)


class FeeAccrual(models.Model):
    """The fee ledger: one row per billable event, never changed or deleted. A correction is a new row that points
    at the row it corrects: a reversal (negative, at most one per row), an adjustment (either sign) or a write-off
    (negative). `posted_on` is the accounting date: the event's own day, or the first open day when that day is in
    a closed period (`LedgerLock`)."""

    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="accruals")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="accruals")
    kind = models.CharField(max_length=20, choices=AccrualKind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    basis = models.CharField(max_length=300, help_text="How the amount was worked out.")
    corrects = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrections",
        help_text="The billable row this reversal, adjustment or write-off corrects.",
    )
    occurred_at = models.DateTimeField(help_text="When the billable event or the correction happened.")
    posted_on = models.DateField(
        help_text="Accounting date: the day it occurred, or the first open day when that day was already closed."
    )
    due_on = models.DateField(help_text="When the partner should pay, by the agreement's payment terms.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["referral", "kind"], condition=Q(kind__in=BILLABLE_KINDS), name="feeaccrual_one_per_event"
            ),
            models.UniqueConstraint(
                fields=["corrects"], condition=Q(kind=AccrualKind.REVERSAL), name="feeaccrual_one_reversal_per_row"
            ),
            models.CheckConstraint(
                condition=(Q(kind__in=BILLABLE_KINDS) & Q(amount__gt=0) & Q(corrects__isnull=True))
                | (
                    Q(kind__in=[AccrualKind.REVERSAL, AccrualKind.WRITE_OFF])
                    & Q(amount__lt=0)
                    & Q(corrects__isnull=False)
                )
                | (Q(kind=AccrualKind.ADJUSTMENT) & ~Q(amount=0) & Q(corrects__isnull=False)),
                name="feeaccrual_sign_matches_kind",
                violation_error_message=(
                    "A billable fee is positive and corrects nothing; a reversal or write-off is negative and an "
                    "adjustment is not zero, and each points at the row it corrects."
                ),
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "occurred_at"], name="feeaccrual_partner_at"),
            models.Index(fields=["posted_on", "id"], name="feeaccrual_posted_on"),
            models.Index(fields=["partner", "currency", "posted_on"], name="feeaccrual_partner_posted"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"

    @property
    def is_billable(self) -> bool:
        return self.kind in BILLABLE_KINDS

    @property
    def posted_late(self) -> bool:
        """Posted after the day it occurred, because that day was in a closed period."""
        return self.posted_on > timezone.localdate(self.occurred_at)


class LedgerLock(models.Model):
    """How far the books are closed: every day up to and including `locked_through`. One row (id 1), moved
    forward only, by finance's `period_lock`. It lives here, beside the ledger, because partners' own postings
    (a late conversion through the partner's link, a reversal) must honour it: an entry dated on or before it is
    posted on the first open day instead (`partners.services.ledger.posting_day`)."""

    locked_through = models.DateField(null=True, blank=True, help_text="Last closed day; blank = nothing closed.")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="ledgerlock_single_row")]

    def __str__(self) -> str:
        return f"closed through {self.locked_through:%Y-%m-%d}" if self.locked_through else "nothing closed"
