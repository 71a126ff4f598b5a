from django.contrib import admin

from partners.admin_forms import PartnerAdminForm, PartnerCriterionAdminForm
from partners.models import FeeAccrual, FeeAgreement, FeeTier, Partner, PartnerContact, PartnerCriterion, Referral


class PartnerContactInline(admin.TabularInline):
    model = PartnerContact
    extra = 1


class PartnerCriterionInline(admin.TabularInline):
    """Fields from the engine's list; the engine checks each value's shape before anything is saved."""

    model = PartnerCriterion
    form = PartnerCriterionAdminForm
    extra = 1
    fields = ("position", "label", "field", "operator", "value", "value_type")


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    form = PartnerAdminForm
    list_display = ("name", "kind", "status", "grade", "region_display", "monthly_capacity")
    list_filter = ("status", "kind", "grade")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("accepted_reasons",)
    inlines = [PartnerContactInline, PartnerCriterionInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        form.instance.save(update_fields=["updated_at"])  # criteria changed: matching reloads its catalogue


class FeeTierInline(admin.TabularInline):
    model = FeeTier
    extra = 0


@admin.register(FeeAgreement)
class FeeAgreementAdmin(admin.ModelAdmin):
    """Read-only here: Finance edits agreements on their page, where overlaps are checked."""

    list_display = (
        "partner",
        "currency",
        "valid_from",
        "valid_to",
        "per_accepted",
        "per_conversion",
        "percent_of_deal",
    )
    list_select_related = ("partner",)
    inlines = [FeeTierInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdmin):
    """Read-only: referrals change through their services (the referral page and the partner's link)."""

    list_display = ("tracking_code", "lead", "partner", "mode", "status", "sent_at")
    list_filter = ("status", "mode")
    list_select_related = ("lead", "partner")
    search_fields = ("tracking_code", "lead__email", "partner__name")
    exclude = ("link_key",)


@admin.register(FeeAccrual)
class FeeAccrualAdmin(ReadOnlyAdmin):
    """The ledger is append-only: no edits or deletes, here or anywhere."""

    list_display = ("occurred_at", "partner", "referral", "kind", "amount", "currency", "due_on")
    list_filter = ("kind", "currency")
    list_select_related = ("partner", "referral")
