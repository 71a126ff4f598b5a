import django_filters
from django.db.models import Q

from leads.models import Lead, LeadSource, LeadStatus


class LeadFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search")
    status = django_filters.ChoiceFilter(choices=LeadStatus.choices, empty_label="Any status")
    source = django_filters.ModelChoiceFilter(queryset=LeadSource.objects.all(), empty_label="Any source")
    country = django_filters.CharFilter(lookup_expr="iexact", label="Country")

    class Meta:
        model = Lead
        fields = ["q", "status", "source", "country"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(email__icontains=value) | Q(name__icontains=value) | Q(company__icontains=value))
