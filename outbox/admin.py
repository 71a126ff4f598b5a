from django.contrib import admin, messages

from outbox.models import OutboundMessage
from outbox.services import OutboxError, message_mark_sent, message_resend


@admin.register(OutboundMessage)
class OutboundMessageAdmin(admin.ModelAdmin):
    """The outbox, to look into; rows change only through the send task, the sweep and the two actions (a
    person deciding about a held or failed email)."""

    list_display = ("created_at", "kind", "to_email", "subject", "status", "attempts", "sent_at", "last_error")
    list_filter = ("status", "kind")
    search_fields = ("to_email", "subject", "idempotency_key", "message_id")
    readonly_fields = ("message_id",)
    actions = ("resend", "mark_sent")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def _decide(self, request, queryset, service, done: str) -> None:
        count = 0
        for message in queryset.select_related("lead"):
            try:
                service(message=message, actor=request.user)
            except OutboxError as exc:
                self.message_user(request, f"{message}: {exc}", messages.WARNING)
            else:
                count += 1
        if count:
            self.message_user(request, done.format(count=count), messages.SUCCESS)

    @admin.action(description="Resend (same Message-ID): held or failed emails")
    def resend(self, request, queryset) -> None:
        self._decide(request, queryset, message_resend, "{count} email(s) queued again.")

    @admin.action(description="Mark as sent: held emails that did arrive")
    def mark_sent(self, request, queryset) -> None:
        self._decide(request, queryset, message_mark_sent, "{count} email(s) marked as sent.")
