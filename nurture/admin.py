from django.contrib import admin, messages

from nurture.admin_forms import HelpfulReplyAdminForm, StepAdminForm
from nurture.models import Enrollment, HelpfulReply, OutboundMessage, Step, Track
from nurture.services.outbox import OutboxError, message_mark_sent, message_resend


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


class StepInline(admin.TabularInline):
    model = Step
    form = StepAdminForm
    extra = 1
    fields = ("position", "kind", "delay_hours", "subject", "body")


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    list_display = ("name", "active", "reason_list")
    list_filter = ("active",)
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("reasons",)
    inlines = [StepInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("reasons")

    @admin.display(description="Reasons")
    def reason_list(self, obj) -> str:
        return ", ".join(r.label for r in obj.reasons.all())


@admin.register(HelpfulReply)
class HelpfulReplyAdmin(admin.ModelAdmin):
    form = HelpfulReplyAdminForm
    list_display = ("title", "reason", "active", "position")
    list_filter = ("active", "reason")
    list_select_related = ("reason",)


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    """To look into; enrollments change through the nurture page and its services."""

    list_display = ("lead", "track", "status", "next_position", "next_run_at", "started_at")
    list_filter = ("status", "track")
    list_select_related = ("lead", "track")
    raw_id_fields = ("lead",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
