import django_filters
from django import forms
from django.db.models import Q

from finance.models import AuditAction, AuditEntry, Payment
from leads.filters import BoundedDateFilter
from partners.models import AccrualKind, FeeAccrual, Partner

DATE = forms.DateInput(attrs={"type": "date"})


def _partners():
    return Partner.objects.order_by("name").only("id", "name")


class LedgerFilter(django_filters.FilterSet):
    partner = django_filters.ModelChoiceFilter(queryset=_partners(), empty_label="Any partner")
    currency = django_filters.CharFilter(method="filter_currency", label="Currency")
    kind = django_filters.ChoiceFilter(choices=AccrualKind.choices, empty_label="Any kind")
    posted_from = BoundedDateFilter(field_name="posted_on", lookup_expr="gte", label="Posted from", widget=DATE)
    posted_to = BoundedDateFilter(field_name="posted_on", lookup_expr="lte", label="Posted until", widget=DATE)
    due_from = BoundedDateFilter(field_name="due_on", lookup_expr="gte", label="Due from", widget=DATE)
    due_to = BoundedDateFilter(field_name="due_on", lookup_expr="lte", label="Due until", widget=DATE)
    state = django_filters.ChoiceFilter(
        choices=[("open", "Open"), ("settled", "Settled")], method="filter_state", empty_label="Open or settled"
    )
    q = django_filters.CharFilter(method="filter_search", label="Tracking code")

    class Meta:
        model = FeeAccrual
        fields = ["partner", "currency", "kind", "posted_from", "posted_to", "due_from", "due_to", "state", "q"]

    def filter_currency(self, queryset, name, value):
        code = value.strip().upper()
        return queryset.filter(currency=code) if code else queryset

    def filter_state(self, queryset, name, value):
        """Open: the row's fee still has something to pay on it; settled: nothing."""
        if value == "open":
            return queryset.filter(item_open__gt=0)
        if value == "settled":
            return queryset.filter(item_open__lte=0)
        return queryset

    def filter_search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(referral__tracking_code__iexact=value) if value else queryset


class PaymentFilter(django_filters.FilterSet):
    partner = django_filters.ModelChoiceFilter(queryset=_partners(), empty_label="Any partner")
    currency = django_filters.CharFilter(method="filter_currency", label="Currency")
    received_from = BoundedDateFilter(field_name="received_on", lookup_expr="gte", label="Received from", widget=DATE)
    received_to = BoundedDateFilter(field_name="received_on", lookup_expr="lte", label="Received until", widget=DATE)
    state = django_filters.ChoiceFilter(
        choices=[("unallocated", "With money left"), ("allocated", "All allocated"), ("bounced", "Bounced")],
        method="filter_state",
        empty_label="Any",
    )
    q = django_filters.CharFilter(method="filter_search", label="Reference")

    class Meta:
        model = Payment
        fields = ["partner", "currency", "received_from", "received_to", "state", "q"]

    def filter_currency(self, queryset, name, value):
        code = value.strip().upper()
        return queryset.filter(currency=code) if code else queryset

    def filter_state(self, queryset, name, value):
        if value == "unallocated":
            return queryset.filter(unallocated__gt=0)
        if value == "allocated":
            return queryset.filter(unallocated__lte=0, bounced_by__isnull=True)
        if value == "bounced":
            return queryset.filter(bounced_by__isnull=False)
        return queryset

    def filter_search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(reference__icontains=value) | Q(note__icontains=value)) if value else queryset


class AuditFilter(django_filters.FilterSet):
    partner = django_filters.ModelChoiceFilter(queryset=_partners(), empty_label="Any partner")
    action = django_filters.ChoiceFilter(choices=AuditAction.choices, empty_label="Any action")
    at_from = BoundedDateFilter(field_name="at", lookup_expr="date__gte", label="From", widget=DATE)
    at_to = BoundedDateFilter(field_name="at", lookup_expr="date__lte", label="Until", widget=DATE)

    class Meta:
        model = AuditEntry
        fields = ["partner", "action", "at_from", "at_to"]
