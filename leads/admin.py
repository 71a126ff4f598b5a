from django.contrib import admin

from leads.models import Lead, LeadEvent, LeadSource


@admin.register(LeadSource)
class LeadSourceAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "sla_hours")
    prepopulated_fields = {"slug": ("name",)}


class LeadEventInline(admin.TabularInline):
    model = LeadEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "verb", "actor", "actor_label", "data")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "company", "country", "source", "status", "received_at", "respond_by")
    list_filter = ("status", "source", "country")
    search_fields = ("email", "name", "company", "external_id")
    list_select_related = ("source", "owner")
    date_hierarchy = "received_at"
    raw_id_fields = ("owner",)
    # State changes go through services (and the timeline), never a raw admin edit.
    readonly_fields = ("status", "received_at", "respond_by", "first_response_at", "created_at", "updated_at")
    inlines = [LeadEventInline]
