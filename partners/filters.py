import django_filters
from django.db.models import Q

from leads.filters import BoundedDateFilter
from partners.models import Partner, PartnerKind, PartnerStatus, Referral, ReferralMode, ReferralStatus


class PartnerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Search")
    status = django_filters.ChoiceFilter(choices=PartnerStatus.choices, empty_label="Any status")
    kind = django_filters.ChoiceFilter(choices=PartnerKind.choices, empty_label="Any kind")
    country = django_filters.CharFilter(method="filter_country", label="Serves country")

    class Meta:
        model = Partner
        fields = ["q", "status", "kind", "country"]

    def filter_country(self, queryset, name, value):
        """Partners listing the country (a JSON list of ISO codes; matched as text so SQLite can do it too)."""
        code = value.strip().upper()
        if not code.isalpha():
            return queryset
        return queryset.filter(countries__icontains=f'"{code}"')


class ReferralFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search")
    status = django_filters.ChoiceFilter(choices=ReferralStatus.choices, empty_label="Any status")
    mode = django_filters.ChoiceFilter(
        choices=[(m.value, m.value.capitalize()) for m in ReferralMode], empty_label="Any mode"
    )
    partner = django_filters.ModelChoiceFilter(queryset=Partner.objects.order_by("name"), empty_label="Any partner")
    sent_from = BoundedDateFilter(field_name="sent_at", lookup_expr="date__gte", label="Sent from")
    sent_to = BoundedDateFilter(field_name="sent_at", lookup_expr="date__lte", label="Sent until")

    class Meta:
        model = Referral
        fields = ["q", "status", "mode", "partner", "sent_from", "sent_to"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(tracking_code__iexact=value) | Q(lead__name__icontains=value) | Q(lead__company__icontains=value)
        )
