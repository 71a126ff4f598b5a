"""The outbox: every email is a row first; a Celery task delivers it. The table keeps the name it had when the
outbox lived in nurture (`nurture_outboundmessage`): the model moved, the rows did not."""

from email.utils import make_msgid

from django.conf import settings
from django.db import models


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"
    UNKNOWN = "unknown", "Outcome unknown (held)"
    CANCELLED = "cancelled", "Cancelled"


def new_message_id() -> str:
    """A `Message-ID` header value, `<…@domain>` with the domain of DEFAULT_FROM_EMAIL (no DNS look-up)."""
    sender = settings.DEFAULT_FROM_EMAIL.strip()
    if sender.endswith(">") and "<" in sender:  # `Name <address>`, whatever the name holds (commas…)
        sender = sender[sender.rfind("<") + 1 : -1]
    return make_msgid(domain=sender.rpartition("@")[2].strip() or "passthrough.invalid")


class OutboundMessage(models.Model):
    """One email to a partner, a lead or an owner. `idempotency_key` makes queueing the same message twice a
    no-op; the send task claims the row with a conditional update, so running it twice sends once. `message_id`
    is made when the row is and sent as the `Message-ID` header on every attempt, so a repeat is recognisable
    as the same email. `unknown`: a sender stopped mid-send (see outbox.services), held for a person.

    `lead` and `referral` say whom the email is about (the apps above read an email's state through them); the
    outbox itself never imports those apps."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    message_id = models.CharField("Message-ID", max_length=255, unique=True, default=new_message_id, editable=False)
    kind = models.CharField(max_length=50, help_text="partner_introduction, lead_signpost, partner_reminder…")
    to_email = models.EmailField()
    to_name = models.CharField(max_length=200, blank=True)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    lead = models.ForeignKey("leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    referral = models.ForeignKey(
        "partners.Referral", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(help_text="Not before: the sweep sends queued rows past this time.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "nurture_outboundmessage"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbound_status_next")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_email} ({self.get_status_display()})"

    @property
    def can_resend(self) -> bool:
        """Held (outcome unknown) or given up: a person may send it again."""
        return self.status in (MessageStatus.UNKNOWN, MessageStatus.FAILED)

    @property
    def can_mark_sent(self) -> bool:
        return self.status == MessageStatus.UNKNOWN
