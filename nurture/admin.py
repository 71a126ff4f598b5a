from django.contrib import admin

from nurture.admin_forms import HelpfulReplyAdminForm, StepAdminForm
from nurture.models import Enrollment, HelpfulReply, Step, Track


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
