from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from leads.fields import IMPORT_COLUMNS, RULES


class LeadSource(models.Model):
    """Where leads come from (web form, partner webinar, CSV list…), with its response SLA."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    sla_hours = models.PositiveIntegerField(
        default=24, help_text="Hours within which a lead from this source must get a first response."
    )
    icp_profile = models.ForeignKey(
        "ICPProfile",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sources",
        help_text="The Ideal Customer Profile leads from this source are checked against.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    QUALIFIED = "qualified", "Qualified"
    NEEDS_REVIEW = "needs_review", "Needs review"
    DISQUALIFIED = "disqualified", "Disqualified"
    REFERRED = "referred", "Referred"
    NURTURING = "nurturing", "Nurturing"
    HELPED = "helped", "Helped"
    CLOSED = "closed", "Closed (not a person)"


class Band(models.TextChoices):
    QUALIFIED = "qualified", "Qualified"
    NEEDS_REVIEW = "needs_review", "Needs review"
    DISQUALIFIED = "disqualified", "Disqualified"


# Leads waiting for a person to choose a redirect: the triage queue.
TRIAGE_STATUSES = [LeadStatus.DISQUALIFIED, LeadStatus.NEEDS_REVIEW]


class Lead(models.Model):
    # Identity
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    company = models.CharField(max_length=200, blank=True)
    title = models.CharField("role / title", max_length=200, blank=True)
    is_decision_maker = models.BooleanField(null=True, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    # Firmographics and need
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2, upper case.")
    postal_code = models.CharField(max_length=20, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    budget = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    budget_currency = models.CharField(max_length=3, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    product_interest = models.CharField(max_length=200, blank=True)
    timeline = models.CharField(max_length=100, blank=True, help_text="When they want to buy, in their words.")
    credit_score = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.TextField(max_length=10_000, blank=True, help_text="What they wrote to us.")
    attributes = models.JSONField(default=dict, blank=True, help_text="Anything else an ICP may test.")
    # Provenance
    source = models.ForeignKey(LeadSource, on_delete=models.PROTECT, related_name="leads")
    external_id = models.CharField(max_length=100, blank=True)
    # Consent: each with the moment it was given and the wording version shown.
    marketing_consent_at = models.DateTimeField(null=True, blank=True)
    marketing_consent_version = models.CharField(max_length=50, blank=True)
    partner_sharing_consent_at = models.DateTimeField(null=True, blank=True)
    partner_sharing_consent_version = models.CharField(max_length=50, blank=True)
    do_not_contact = models.BooleanField(default=False)
    # Handling
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_leads"
    )
    status = models.CharField(max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    received_at = models.DateTimeField()
    respond_by = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    # Triage: who is working on the lead right now (a claim lapses after a few minutes).
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    sla_warned_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the owner was warned the respond-by time is near."
    )
    # The band of the latest check against the ICP (the check itself, with its why, is the latest Evaluation).
    # Kept on the lead so that re-qualifying writes only the leads whose verdict changes.
    icp_band = models.CharField(
        "ICP band", max_length=12, choices=Band.choices, blank=True, default="", db_default="", editable=False
    )
    primary_reason = models.ForeignKey(
        "DisqualificationReason",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
        help_text="Why it does not fit: the reason of the first failed criterion.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at"]
        permissions = [
            ("triage_lead", "Can triage leads and choose redirects"),
            ("import_leads", "Can import leads from files"),
            ("view_reports", "Can read the manager reports"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="lead_source_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(respond_by__gte=models.F("received_at")), name="lead_respond_by_after_received"
            ),
            models.CheckConstraint(
                condition=Q(credit_score__isnull=True) | Q(credit_score__lte=1000), name="lead_credit_score_range"
            ),
            # The rules between fields (a budget needs a currency, …), declared with their checks in leads/fields.py.
            *(models.CheckConstraint(condition=rule.condition, name=rule.name) for rule in RULES),
        ]
        indexes = [
            models.Index(fields=["status", "respond_by"], name="lead_status_respond_by"),
            models.Index(fields=["received_at"], name="lead_received_at"),
            models.Index(fields=["email"], name="lead_email"),
            models.Index(fields=["owner", "status"], name="lead_owner_status"),
            # The triage queue (disqualified and needs review), most urgent first, overall and per reason/owner.
            models.Index(fields=["respond_by", "id"], condition=Q(status__in=TRIAGE_STATUSES), name="lead_queue"),
            models.Index(
                fields=["primary_reason", "respond_by", "id"],
                condition=Q(status__in=TRIAGE_STATUSES),
                name="lead_queue_reason",
            ),
            models.Index(
                fields=["owner", "respond_by", "id"], condition=Q(status__in=TRIAGE_STATUSES), name="lead_queue_owner"
            ),
            models.Index(
                fields=["source", "respond_by", "id"], condition=Q(status__in=TRIAGE_STATUSES), name="lead_queue_source"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.email} ({self.company})" if self.company else (self.name or self.email)

    def get_absolute_url(self) -> str:
        return reverse("leads:detail", args=[self.pk])

    @property
    def has_partner_sharing_consent(self) -> bool:
        return self.partner_sharing_consent_at is not None

    @property
    def has_marketing_consent(self) -> bool:
        return self.marketing_consent_at is not None


class LeadEvent(models.Model):
    """The lead's timeline: every state change, decision and message, with who and why.

    Append-only, written by the services (a row per lead on import, on every re-check that changes a status,
    on every message). Like the evaluation log, its references are not database constraints: a per-row
    check locks the lead's row and costs more than writing the event (measured: 10 s per million imported
    leads). Deletes go through Django, which cascades from the lead and sets the actor to null."""

    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="events", db_index=False, db_constraint=False
    )  # indexed by (lead, at)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, db_constraint=False
    )
    actor_label = models.CharField(
        max_length=100, blank=True, help_text="Who acted when not a user: system, api:<source>…"
    )
    verb = models.CharField(max_length=50)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()  # read per lead only, through (lead, at)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["lead", "at"], name="leadevent_lead_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.verb}"

    @property
    def actor_display(self) -> str:
        if self.actor_id:
            return self.actor.get_full_name() or self.actor.get_username()
        return self.actor_label or "system"


class RedirectKind(models.TextChoices):
    REFER = "refer", "Refer to a partner"
    NURTURE = "nurture", "Nurture"
    HELP = "help", "Help with resources"
    CLOSE = "close", "Close (not a person)"


class DisqualificationReason(models.Model):
    """Admin-managed taxonomy of why a lead does not fit, and which redirects usually help."""

    code = models.SlugField(max_length=50, unique=True)
    label = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    redirect_kinds = models.JSONField(
        default=list, blank=True, help_text='Redirect kinds that usually help, e.g. ["refer", "nurture"].'
    )
    is_non_buyer = models.BooleanField(default=False, help_text="Press, job seekers, vendors: not a buyer at all.")
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return self.label


class ICPProfile(models.Model):
    """A named Ideal Customer Profile; its criteria live in immutable published versions."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "ICP profile"
        permissions = [("publish_icpprofile", "Can publish ICP versions")]

    def __str__(self) -> str:
        return self.name


class ICPVersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published (in force)"
    RETIRED = "retired", "Retired"


class ICPVersion(models.Model):
    """One version of a profile. Drafts are edited; publishing freezes it and retires the previous one."""

    profile = models.ForeignKey(ICPProfile, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=ICPVersionStatus.choices, default=ICPVersionStatus.DRAFT)
    qualified_min = models.PositiveSmallIntegerField(default=70, help_text="Score (0-100) at or above: qualified.")
    review_min = models.PositiveSmallIntegerField(default=40, help_text="Score at or above (below qualified): review.")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["profile", "-number"]
        verbose_name = "ICP version"
        constraints = [
            models.UniqueConstraint(fields=["profile", "number"], name="icpversion_profile_number_unique"),
            models.UniqueConstraint(
                fields=["profile"], condition=Q(status="published"), name="icpversion_one_published_per_profile"
            ),
            models.UniqueConstraint(
                fields=["profile"], condition=Q(status="draft"), name="icpversion_one_draft_per_profile"
            ),
            models.CheckConstraint(
                condition=Q(review_min__lte=models.F("qualified_min")) & Q(qualified_min__lte=100),
                name="icpversion_bands_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.profile} v{self.number} ({self.get_status_display()})"


class Operator(models.TextChoices):
    EQ = "eq", "equals"
    NE = "ne", "does not equal"
    IN = "in", "is one of"
    NOT_IN = "not_in", "is none of"
    LT = "lt", "<"
    LTE = "lte", "≤"
    GT = "gt", ">"
    GTE = "gte", "≥"
    BETWEEN = "between", "between (inclusive)"
    IS_SET = "is_set", "is set"
    IS_MISSING = "is_missing", "is missing"
    CONTAINS = "contains", "contains"
    WITHIN_KM = "within_km", "within N km of a point"


class ValueType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Yes/no"


class Criterion(models.Model):
    """One test of an ICP version. `field` is a Lead field name or `attributes.<key>`.

    `value` (JSON) by operator: a scalar; a list for in/not_in; [low, high] for between; nothing for
    is_set/is_missing; {"lat": …, "lon": …, "km": …} for within_km (tests the lead's latitude/longitude).
    """

    version = models.ForeignKey(ICPVersion, on_delete=models.CASCADE, related_name="criteria")
    position = models.PositiveSmallIntegerField(default=0)
    label = models.CharField(max_length=200)
    field = models.CharField(max_length=100)
    operator = models.CharField(max_length=12, choices=Operator.choices)
    value = models.JSONField(null=True, blank=True)
    value_type = models.CharField(
        max_length=10,
        choices=ValueType.choices,
        default=ValueType.TEXT,
        help_text="How to compare a value from attributes (lead fields know their own type).",
    )
    hard = models.BooleanField(default=False, help_text="A knock-out: failing it disqualifies whatever the score.")
    weight = models.PositiveSmallIntegerField(default=10, help_text="Soft criteria: share of the score.")
    reason = models.ForeignKey(DisqualificationReason, null=True, blank=True, on_delete=models.PROTECT)
    what_would_qualify = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["version", "position", "id"]
        verbose_name_plural = "criteria"

    def __str__(self) -> str:
        return self.label


class Evaluation(models.Model):
    """One check of a lead against one ICP version, kept for good (append-only).

    `outcomes` has one letter per criterion of the version, in its order: p(ass), f(ail), u(nknown).
    `actual` lists the lead's values then, of `engine.fields_tested()` of the version, in that order. With
    the (immutable) criteria, that explains the verdict later on (`selectors.evaluation_explain`).

    Its references are not database constraints: this log grows by a row per lead each time an ICP is
    published, written only by the evaluation services in set-based statements, and a per-row foreign-key
    check would cost more than writing the row. Deletes still go through Django, which cascades from the
    lead and protects versions and reasons that evaluations refer to.
    """

    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="evaluations", db_index=False, db_constraint=False
    )  # indexed by (lead, -evaluated_at)
    version = models.ForeignKey(
        ICPVersion, on_delete=models.PROTECT, related_name="evaluations", db_index=False, db_constraint=False
    )
    score = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=12, choices=Band.choices)
    primary_reason = models.ForeignKey(
        DisqualificationReason, null=True, blank=True, on_delete=models.PROTECT, db_index=False, db_constraint=False
    )
    outcomes = models.TextField(help_text="One letter per criterion, in order: p pass, f fail, u unknown.")
    actual = models.JSONField(default=list, help_text="The values of the fields tested, in the version's order.")
    evaluated_at = models.DateTimeField()

    class Meta:
        ordering = ["-evaluated_at", "-id"]
        indexes = [models.Index(fields=["lead", "-evaluated_at"], name="evaluation_lead_at")]

    def __str__(self) -> str:
        return f"{self.band} ({self.score}) against {self.version_id}"


class ApiKey(models.Model):
    """An intake API key for one source. Only a SHA-256 of the secret is stored; the prefix finds the row."""

    source = models.ForeignKey(LeadSource, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["source", "name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """A CSV upload: its column mapping, progress and outcome. Rejected rows are ImportRowError rows."""

    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    source = models.ForeignKey(LeadSource, on_delete=models.PROTECT, related_name="imports")
    mapping = models.JSONField(default=dict, help_text="CSV column -> lead field.")
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=2, blank=True)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    bands = models.JSONField(default=dict, blank=True, help_text="Leads stored per ICP band.")
    message = models.TextField(blank=True, help_text="Why the import failed.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The run that holds the job (leads/import_lease.py): a token per attempt, and a lease its worker renews while
    # it lives; a running job whose lease ran out is failed by the sweep or taken over by a redelivered task.
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Runs started (a takeover counts).")
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    progress_percent = models.PositiveSmallIntegerField(default=0, help_text="As of the worker's last renewal.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def bands_display(self) -> str:
        return ", ".join(f"{n} {band.replace('_', ' ')}" for band, n in sorted(self.bands.items()))


class ImportRowError(models.Model):
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row = models.PositiveIntegerField(help_text="Line number in the file, header = 1.")
    column = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["job", "row", "id"]

    def __str__(self) -> str:
        return f"row {self.row} {self.column}: {self.message}"


class StagedLead(models.Model):
    """The temporary table the PostgreSQL import COPYs a chunk of rows into (created per import, never
    migrated). Besides its own columns, the Lead columns an import writes (`leads.fields.IMPORT_COLUMNS`) with the
    same names and types, all optional (NULL = blank cell), so the ICP's SQL compiler can evaluate staged rows
    before they are stored."""

    row_no = models.IntegerField(primary_key=True)
    repeat = models.BooleanField(default=False)
    lead_id = models.BigIntegerField(null=True)
    external_id = models.CharField(max_length=100)
    received_at = models.DateTimeField(null=True)
    attributes = models.JSONField(null=True)

    class Meta:
        managed = False
        db_table = "import_staged_lead"

    def __str__(self) -> str:
        return f"row {self.row_no}: {self.external_id}"


def _staged(field: models.Field) -> models.Field:
    """A nullable copy of one of Lead's columns (same class, name and size; no default, no choices)."""
    _, _, args, kwargs = field.deconstruct()
    for option in ("blank", "default", "db_default", "help_text", "verbose_name", "choices"):
        kwargs.pop(option, None)
    return field.__class__(*args, **{**kwargs, "null": True})


for _name in IMPORT_COLUMNS:
    StagedLead.add_to_class(_name, _staged(Lead._meta.get_field(_name)))
