from django.conf import settings
from django.db import models
from django.db.models import Q


class LeadSource(models.Model):
    """Where leads come from (web form, partner webinar, CSV list…), with its response SLA."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    sla_hours = models.PositiveIntegerField(
        default=24, help_text="Hours within which a lead from this source must get a first response."
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
    message = models.TextField(blank=True, help_text="What they wrote to us.")
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
        ]
        indexes = [
            models.Index(fields=["status", "respond_by"], name="lead_status_respond_by"),
            models.Index(fields=["received_at"], name="lead_received_at"),
            models.Index(fields=["email"], name="lead_email"),
            models.Index(fields=["owner", "status"], name="lead_owner_status"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.email} ({self.company})" if self.company else (self.name or self.email)

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("leads:detail", args=[self.pk])

    @property
    def has_partner_sharing_consent(self) -> bool:
        return self.partner_sharing_consent_at is not None

    @property
    def has_marketing_consent(self) -> bool:
        return self.marketing_consent_at is not None


class LeadEvent(models.Model):
    """The lead's timeline: every state change, decision and message, with who and why."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(
        max_length=100, blank=True, help_text="Who acted when not a user: system, api:<source>…"
    )
    verb = models.CharField(max_length=50)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(db_index=True)

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
