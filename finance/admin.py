"""Finance in the admin: read-only. Money changes only through the services (the finance pages), so every change
is checked, posted under the lock and audited."""

from django.contrib import admin

from finance.models import Allocation, AuditEntry, Payment


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("received_on", "posted_on", "partner", "kind", "amount", "currency", "reference")
    list_filter = ("kind", "currency")
    list_select_related = ("partner",)
    search_fields = ("reference", "partner__name")


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "payment", "accrual", "amount", "currency", "source")
    list_filter = ("source", "currency")
    list_select_related = ("payment", "accrual")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "action", "partner", "actor", "summary")
    list_filter = ("action",)
    list_select_related = ("partner", "actor")
    search_fields = ("summary",)
