"""Finance: money received and where it went, partner statements and their reconciliation, the audit trail.

The fee ledger itself (`partners.FeeAccrual`) and the period lock (`partners.LedgerLock`) live in partners, which
posts to them; everything here is append-only like the ledger: a payment that bounced gets a reversing row, an
allocation given back gets a negative row, a resolution is a row. Balances are sums, per partner and currency.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from partners.models import BILLABLE_KINDS, FeeAccrual, Partner, Referral


class PaymentKind(models.TextChoices):
    RECEIVED = "received", "Received"
    BOUNCED = "bounced", "Bounced"


class Payment(models.Model):
    """Money a partner paid us (positive), or a bounce that reverses it (negative, pointing at the payment).
    What is not allocated to fees is the partner's credit, used by later allocations."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(max_length=10, choices=PaymentKind.choices, default=PaymentKind.RECEIVED)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    received_on = models.DateField(help_text="The day the money arrived (or bounced).")
    posted_on = models.DateField(help_text="Accounting date: the day itself, or the first open day after the lock.")
    reference = models.CharField(max_length=100, blank=True, help_text="The bank's or the partner's reference.")
    note = models.CharField(max_length=300, blank=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="bounced_by")
    statement = models.ForeignKey(
        "PartnerStatement",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        help_text="The statement this payment settles, when it came with one.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_on", "-id"]
        permissions = [("bounce_payment", "Can record that a payment bounced")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="received") & Q(amount__gt=0) & Q(reverses__isnull=True))
                | (Q(kind="bounced") & Q(amount__lt=0) & Q(reverses__isnull=False)),
                name="payment_sign_matches_kind",
                violation_error_message="A payment is positive; a bounce is negative and names the payment.",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "currency", "received_on"], name="payment_partner_received"),
            models.Index(fields=["posted_on", "id"], name="payment_posted_on"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency} from {self.partner}"

    def get_absolute_url(self) -> str:
        return reverse("finance:payment", args=[self.pk if self.reverses_id is None else self.reverses_id])

    @property
    def posted_late(self) -> bool:
        return self.posted_on > self.received_on


class Allocation(models.Model):
    """Part of a payment set against one fee (a billable ledger row). A negative row gives back part of an earlier
    allocation (the payment bounced, or the fee was corrected below what was paid): it points at that allocation.
    Per payment, allocations never exceed the payment; per fee, never its amount due (the services hold both)."""

    class Source(models.TextChoices):
        HAND = "hand", "By hand"
        AUTOMATIC = "automatic", "Automatically, oldest due first"
        STATEMENT = "statement", "From a reconciled statement"
        BOUNCE = "bounce", "Given back: the payment bounced"
        CORRECTION = "correction", "Given back: the fee was lowered"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    accrual = models.ForeignKey(FeeAccrual, on_delete=models.PROTECT, related_name="allocations")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.HAND)
    gives_back = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="given_back_by"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(amount__gt=0) & Q(gives_back__isnull=True))
                | (Q(amount__lt=0) & Q(gives_back__isnull=False)),
                name="allocation_sign_matches_kind",
                violation_error_message="An allocation is positive; giving one back is negative and names it.",
            ),
        ]
        indexes = [models.Index(fields=["accrual", "payment"], name="allocation_accrual_payment")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} of payment {self.payment_id} to fee {self.accrual_id}"


class AuditAction(models.TextChoices):
    AGREEMENT_CREATED = "agreement_created", "Fee agreement created"
    AGREEMENT_CHANGED = "agreement_changed", "Fee agreement changed"
    AGREEMENT_ENDED = "agreement_ended", "Fee agreement ended"
    CORRECTION = "correction", "Fee corrected"
    PAYMENT_RECORDED = "payment_recorded", "Payment recorded"
    PAYMENT_BOUNCED = "payment_bounced", "Payment bounced"
    ALLOCATED = "allocated", "Payment allocated"
    GIVEN_BACK = "given_back", "Allocation given back"
    PERIOD_LOCKED = "period_locked", "Period locked"
    STATEMENT_IMPORTED = "statement_imported", "Statement imported"
    STATEMENT_RECONCILED = "statement_reconciled", "Statement reconciled"
    STATEMENT_SETTINGS = "statement_settings", "Statement matching settings changed"
    RESOLUTION = "resolution", "Reconciliation item resolved"


class AuditEntry(models.Model):
    """Who did what to money, and when: one row per change, never edited. `changes` holds {field: [old, new]}
    where something changed; `subject` names the row ("payment", 12) it is about."""

    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=100, blank=True, help_text="Who, when not a user: system, seed_demo…")
    action = models.CharField(max_length=30, choices=AuditAction.choices)
    partner = models.ForeignKey(Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    subject_type = models.CharField(max_length=30)
    subject_id = models.BigIntegerField()
    summary = models.CharField(max_length=500)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "at"], name="audit_subject"),
            models.Index(fields=["partner", "at"], name="audit_partner_at"),
            models.Index(fields=["at"], name="audit_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()}: {self.summary}"

    @property
    def who(self) -> str:
        if self.actor_id:
            return self.actor.get_full_name() or self.actor.get_username()
        return self.actor_label or "system"


# Partner statements and reconciliation (the import, the matching and the workspace build on these) ---------


class DateOrder(models.TextChoices):
    DMY = "dmy", "Day/month/year (31/01/2026)"
    MDY = "mdy", "Month/day/year (01/31/2026)"
    YMD = "ymd", "Year-month-day (2026-01-31)"


class StatementSettings(models.Model):
    """A partner's statement conventions and matching settings, remembered from one statement to the next."""

    partner = models.OneToOneField(Partner, on_delete=models.CASCADE, related_name="statement_settings")
    column_mapping = models.JSONField(default=dict, blank=True, help_text="{their column header: our field}.")
    decimal_separator = models.CharField(
        max_length=1, blank=True, help_text="How its statements write amounts; blank = as the partner is set up."
    )
    date_order = models.CharField(max_length=3, choices=DateOrder.choices, default=DateOrder.DMY)
    default_currency = models.CharField(max_length=3, blank=True)
    match_window_days = models.PositiveSmallIntegerField(
        default=45, help_text="How far a line's date may be from the fee's event when matched by email hash."
    )
    tolerance_amount = models.DecimalField(
        max_digits=14, decimal_places=2, default=0, help_text="A line this close to the fee counts as matched."
    )
    tolerance_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=0, help_text="… or this close, as a share of the fee."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "statement settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(tolerance_amount__gte=0) & Q(tolerance_percent__gte=0) & Q(tolerance_percent__lte=100),
                name="statementsettings_tolerance_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Statement settings of {self.partner}"


class PartnerStatement(models.Model):
    """A partner's statement of what it owes us for a period, as uploaded (CSV or XLSX). Imported whole or not at
    all; the same file twice for a partner is refused (`file_sha256`)."""

    class Status(models.TextChoices):
        IMPORTED = "imported", "Imported"
        RECONCILED = "reconciled", "Reconciled"

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="statements")
    period_start = models.DateField()
    period_end = models.DateField()
    original_name = models.CharField(max_length=255)
    file = models.FileField(upload_to="statements/%Y/%m/", blank=True)
    file_sha256 = models.CharField(max_length=64)
    column_mapping = models.JSONField(default=dict, blank=True, help_text="The mapping it was read with.")
    decimal_separator = models.CharField(max_length=1, default=".")
    date_order = models.CharField(max_length=3, choices=DateOrder.choices, default=DateOrder.DMY)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.IMPORTED)
    line_count = models.PositiveIntegerField(default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    imported_at = models.DateTimeField(default=timezone.now)
    reconciled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_end", "-id"]
        permissions = [("reconcile_statement", "Can import and reconcile partner statements")]
        constraints = [
            models.UniqueConstraint(fields=["partner", "file_sha256"], name="statement_file_once_per_partner"),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="statement_period_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} statement {self.period_start:%Y-%m-%d}–{self.period_end:%Y-%m-%d}"


class StatementLine(models.Model):
    """One line of a statement as read: the keys it can be matched by, and what the partner says it owes.
    `fee_kind` blank = the line covers several (all) of the referral's fees of the period."""

    # Indexed by the unique (statement, row_number) below; lines are looked up by statement only. Lines are written
    # only by the import, in the transaction that creates their statement, so the reference is not a database
    # constraint (checking it per row at commit took longer than writing the row); Django still cascades.
    statement = models.ForeignKey(
        PartnerStatement, on_delete=models.CASCADE, related_name="lines", db_index=False, db_constraint=False
    )
    row_number = models.PositiveIntegerField(help_text="The line's row in the file (header = 1).")
    tracking_code = models.CharField(max_length=20, blank=True)
    partner_reference = models.CharField(max_length=100, blank=True)
    email_hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the lowercased, trimmed email.")
    line_date = models.DateField(null=True, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    fee_kind = models.CharField(
        max_length=20,
        blank=True,
        choices=[(kind.value, kind.label) for kind in BILLABLE_KINDS],
    )
    description = models.CharField(max_length=300, blank=True)
    raw = models.JSONField(default=dict, blank=True, help_text="The row as read, by column header.")

    class Meta:
        ordering = ["statement", "row_number"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "row_number"], name="statementline_row_once"),
        ]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.amount} {self.currency}"


class PartnerReference(models.Model):
    """The partner's own reference for one of our referrals (learnt when a line is linked by hand); the second
    matching rule looks lines up by it."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="references")
    reference = models.CharField(max_length=100)
    referral = models.ForeignKey(Referral, on_delete=models.PROTECT, related_name="partner_references")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "reference"], name="partnerreference_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.partner}: {self.reference}"


class MatchCategory(models.TextChoices):
    MATCHED = "matched", "Matched"
    AMOUNT_MISMATCH = "amount_mismatch", "Amount mismatch"
    UNKNOWN_REFERRAL = "unknown_referral", "Unknown referral"
    DUPLICATE_LINE = "duplicate_line", "Duplicate line"
    MISSING = "missing", "Missing from statement"


class MatchRule(models.TextChoices):
    TRACKING_CODE = "tracking_code", "Tracking code"
    PARTNER_REFERENCE = "partner_reference", "Partner reference"
    EMAIL_HASH = "email_hash", "Email hash within the date window"
    HAND = "hand", "Linked by hand"
    NONE = "none", "No rule matched"


class ReconciliationItem(models.Model):
    """One outcome of reconciling a statement: a line (matched, mismatched, unknown, duplicate) or an open fee of
    the period the statement does not mention (missing). Says which rule matched it."""

    # Items are written by the reconciliation in one INSERT … SELECT from rows the same transaction reads (its
    # statement locked), so, like the evaluation log, their references are not database constraints: checking
    # them at commit took 4.8 s for 190,000 items, as long as the whole matching. Django still cascades and
    # protects on delete (and the ledger rows they point at are never deleted).
    statement = models.ForeignKey(  # indexed by (statement, category) below
        PartnerStatement, on_delete=models.CASCADE, related_name="items", db_index=False, db_constraint=False
    )
    line = models.ForeignKey(
        StatementLine, null=True, blank=True, on_delete=models.CASCADE, related_name="items", db_constraint=False
    )
    referral = models.ForeignKey(
        Referral, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    accrual = models.ForeignKey(
        FeeAccrual,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reconciliation_items",
        db_constraint=False,
    )
    category = models.CharField(max_length=20, choices=MatchCategory.choices)
    rule = models.CharField(max_length=20, choices=MatchRule.choices, default=MatchRule.NONE)
    expected_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    statement_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["statement", "category", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(line__isnull=False) | Q(category="missing"), name="reconitem_line_unless_missing"
            ),
        ]
        indexes = [models.Index(fields=["statement", "category"], name="reconitem_statement_category")]

    def __str__(self) -> str:
        return f"{self.get_category_display()} ({self.get_rule_display()})"

    @property
    def difference(self):
        if self.expected_amount is None or self.statement_amount is None:
            return None
        return self.statement_amount - self.expected_amount


class ResolutionAction(models.TextChoices):
    ACCEPT_PARTNER_AMOUNT = "accept", "Accepted the partner's amount"
    DISPUTE = "dispute", "Disputed"
    WRITE_OFF = "write_off", "Written off"
    LINK = "link", "Linked by hand"
    DISMISS_DUPLICATE = "dismiss", "Dismissed as a duplicate"


class Resolution(models.Model):
    """What finance decided about a reconciliation item. At most one final resolution per item (a constraint: two
    people resolving one item produce one row); a dispute stays open, visible until a final resolution follows."""

    item = models.ForeignKey(ReconciliationItem, on_delete=models.PROTECT, related_name="resolutions")
    action = models.CharField(max_length=10, choices=ResolutionAction.choices)
    note = models.TextField(blank=True)
    follow_up_on = models.DateField(null=True, blank=True, help_text="Disputes: when to chase the partner.")
    accrual = models.ForeignKey(
        FeeAccrual,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="resolutions",
        help_text="The ledger row it appended (an adjustment or a write-off).",
    )
    referral = models.ForeignKey(
        Referral, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Linked by hand."
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["resolved_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["item"], condition=~Q(action="dispute"), name="resolution_one_per_item"),
            models.UniqueConstraint(
                fields=["item"], condition=Q(action="dispute"), name="resolution_one_dispute_per_item"
            ),
            models.CheckConstraint(
                condition=~Q(action="dispute") | Q(follow_up_on__isnull=False), name="resolution_dispute_follow_up"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.item})"
