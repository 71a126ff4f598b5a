from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from leads import services
from leads.admin_forms import CriterionAdminForm, DisqualificationReasonAdminForm, LeadAdminForm, LeadSourceAdminForm
from leads.apikeys import api_key_create, api_key_revoke
from leads.models import (
    ApiKey,
    Criterion,
    DisqualificationReason,
    Evaluation,
    ICPProfile,
    ICPVersion,
    ICPVersionStatus,
    ImportJob,
    ImportRowError,
    Lead,
    LeadEvent,
    LeadSource,
    RedirectKind,
)


@admin.register(LeadSource)
class LeadSourceAdmin(admin.ModelAdmin):
    form = LeadSourceAdminForm
    list_display = ("name", "slug", "sla_hours", "icp_profile")
    list_select_related = ("icp_profile",)
    prepopulated_fields = {"slug": ("name",)}


class LeadEventInline(admin.TabularInline):
    model = LeadEvent
    extra = 0
    can_delete = False
    readonly_fields = ("at", "verb", "actor", "actor_label", "data")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    form = LeadAdminForm
    list_display = ("email", "name", "company", "country", "source", "status", "received_at", "respond_by")
    list_filter = ("status", "source", "country", "primary_reason")
    search_fields = ("email", "name", "company", "external_id")
    list_select_related = ("source", "owner")
    date_hierarchy = "received_at"
    raw_id_fields = ("owner",)
    # State changes go through services (and the timeline), never a raw admin edit.
    readonly_fields = (
        "status",
        "received_at",
        "respond_by",
        "first_response_at",
        "primary_reason",
        "created_at",
        "updated_at",
    )
    inlines = [LeadEventInline]

    def save_model(self, request, obj, form, change):
        """Edits of the lead's data go through `lead_update`: on the timeline, and the ICP checked again."""
        if not change:
            return super().save_model(request, obj, form, change)
        data = {field: form.cleaned_data[field] for field in form.changed_data if field in services.DATA_FIELDS}
        other = {field: form.cleaned_data[field] for field in form.changed_data if field not in data}
        try:
            services.lead_update(lead=obj, data=data, actor=request.user)
        except services.LeadDataError as exc:  # nothing was written
            self.message_user(request, f"Not saved: {exc}", level=messages.ERROR)
            return
        if other:  # owner, external id…: no bearing on the verdict
            Lead.objects.filter(pk=obj.pk).update(**other)
            services.lead_event_record(lead=obj, verb="updated", actor=request.user, data={"fields": sorted(other)})


@admin.register(DisqualificationReason)
class DisqualificationReasonAdmin(admin.ModelAdmin):
    form = DisqualificationReasonAdminForm
    list_display = ("label", "code", "redirects", "is_non_buyer", "active", "position")
    list_editable = ("position", "active")
    prepopulated_fields = {"code": ("label",)}

    @admin.display(description="Redirect kinds")
    def redirects(self, obj) -> str:
        labels = dict(RedirectKind.choices)
        kinds = obj.redirect_kinds if isinstance(obj.redirect_kinds, list) else []
        return ", ".join(str(labels.get(kind, kind)) for kind in kinds) or "-"


class ICPVersionInline(admin.TabularInline):
    model = ICPVersion
    extra = 0
    fields = ("number", "status", "qualified_min", "review_min", "published_at", "published_by")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ICPProfile)
class ICPProfileAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [ICPVersionInline]
    actions = ["new_draft"]

    @admin.action(description="Start a new draft version (copies the criteria in force)")
    def new_draft(self, request, queryset):
        for profile in queryset:
            try:
                draft = services.icp_draft_create(profile=profile, user=request.user)
            except services.ICPError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"Draft v{draft.number} of {profile} created.", messages.SUCCESS)


class CriterionInline(admin.StackedInline):
    """Fields from the engine's list; the engine checks each value's shape before anything is saved."""

    model = Criterion
    form = CriterionAdminForm
    extra = 0
    fields = (
        ("position", "label"),
        ("field", "operator", "value_type"),
        "value",
        ("hard", "weight", "reason"),
        "what_would_qualify",
    )

    def _editable(self, obj) -> bool:
        return obj is None or obj.status == ICPVersionStatus.DRAFT

    def has_add_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(ICPVersion)
class ICPVersionAdmin(admin.ModelAdmin):
    """Drafts are edited here; published and retired versions are read-only (immutable)."""

    list_display = ("profile", "number", "status", "qualified_min", "review_min", "published_at", "whatif_link")
    list_filter = ("profile", "status")
    list_select_related = ("profile",)
    inlines = [CriterionInline]
    readonly_fields = ("status", "published_at", "published_by", "created_by", "whatif_link")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != ICPVersionStatus.DRAFT:
            return [f.name for f in ICPVersion._meta.fields] + ["whatif_link"]
        return self.readonly_fields

    def has_add_permission(self, request) -> bool:
        return False  # new versions start from the profile's "Start a new draft" action

    def has_delete_permission(self, request, obj=None) -> bool:
        return obj is not None and obj.status == ICPVersionStatus.DRAFT and super().has_delete_permission(request, obj)

    @admin.display(description="What-if / publish")
    def whatif_link(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "-"
        return format_html('<a href="{}">Open the version page</a>', reverse("leads:icp_version", args=[obj.pk]))


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    list_display = ("lead", "version", "band", "score", "primary_reason", "evaluated_at")
    list_filter = ("band", "version__profile")
    list_select_related = ("lead", "version__profile", "primary_reason")
    raw_id_fields = ("lead",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # evaluations are a record of what was decided

    def has_add_permission(self, request) -> bool:
        return False


class ImportRowErrorInline(admin.TabularInline):
    model = ImportRowError
    extra = 0
    readonly_fields = ("row", "column", "message")
    can_delete = False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = (
        "original_name",
        "source",
        "status",
        "total_rows",
        "created_count",
        "updated_count",
        "rejected_count",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "source")
    inlines = [ImportRowErrorInline]

    # To look into: jobs (their mapping, counts and outcome) are written by the import service, from its page.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are made by the service: the secret is shown once, after saving, and only its hash is kept."""

    list_display = ("name", "source", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("source", "revoked_at")
    fields = ("source", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "source") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        api_key, raw = api_key_create(source=obj.source, name=obj.name)
        obj.pk, obj.prefix = api_key.pk, api_key.prefix
        self.message_user(request, f"Key created. Copy it now, it will not be shown again: {raw}", messages.WARNING)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead, so the record of who had access stays

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"{queryset.count()} key(s) revoked.", messages.SUCCESS)
