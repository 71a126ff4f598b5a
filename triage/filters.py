"""The triage queue's filters: reason, band, source, country, owner ("me", unassigned, a person), overdue, received
between two dates. The URL names are the ones `manage.py bench triage` requests."""

from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.utils import timezone

from leads.filters import BoundedDateFilter, choices_once, sales_ops_users
from leads.models import DisqualificationReason, Lead, LeadSource, LeadStatus

BANDS = [(LeadStatus.DISQUALIFIED.value, "Disqualified"), (LeadStatus.NEEDS_REVIEW.value, "Needs review")]


def _owner_choices():
    people = [(str(user.pk), user.get_full_name() or user.get_username()) for user in sales_ops_users()]
    return [("me", "Me"), ("unassigned", "Unassigned"), *people]


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class TriageFilter(django_filters.FilterSet):
    """The triage queue's filters. The URL names (reason, band, owner=me, overdue=on, my_overdue=on…) are the
    ones `manage.py bench triage` requests. Pass `request` (owner "me" and "my overdue" need the user)."""

    reason = django_filters.ModelChoiceFilter(
        field_name="primary_reason", queryset=DisqualificationReason.objects.all(), empty_label="Any reason"
    )
    band = django_filters.ChoiceFilter(field_name="status", choices=BANDS, empty_label="Both bands")
    source = django_filters.ModelChoiceFilter(queryset=LeadSource.objects.all(), empty_label="Any source")
    country = django_filters.CharFilter(method="filter_country", label="Country")
    owner = django_filters.ChoiceFilter(choices=(), method="filter_owner", empty_label="Anyone")
    overdue = django_filters.BooleanFilter(method="filter_overdue", widget=forms.CheckboxInput, label="Overdue")
    my_overdue = django_filters.BooleanFilter(
        method="filter_my_overdue", widget=forms.CheckboxInput, label="My overdue"
    )
    received_from = BoundedDateFilter(method="filter_received_from", label="Received from")
    received_to = BoundedDateFilter(method="filter_received_to", label="Received to")

    class Meta:
        model = Lead
        fields = [
            "reason",
            "band",
            "source",
            "country",
            "owner",
            "overdue",
            "my_overdue",
            "received_from",
            "received_to",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["owner"].extra["choices"] = _owner_choices()
        choices_once(self.form)

    def _user(self):
        return getattr(self.request, "user", None)

    def _overdue(self, queryset):
        return queryset.filter(first_response_at__isnull=True, respond_by__lt=timezone.now())

    def filter_country(self, queryset, name, value):
        value = value.strip().upper()
        return queryset.filter(country=value) if value else queryset

    def filter_owner(self, queryset, name, value):
        if value == "me":
            return queryset.filter(owner=self._user())
        if value == "unassigned":
            return queryset.filter(owner__isnull=True)
        return queryset.filter(owner_id=value)

    def filter_overdue(self, queryset, name, value):
        return self._overdue(queryset) if value else queryset

    def filter_my_overdue(self, queryset, name, value):
        return self._overdue(queryset.filter(owner=self._user())) if value else queryset

    def filter_received_from(self, queryset, name, value):
        # respond_by >= received_at (a check constraint), so the same bound on respond_by changes no result and
        # lets the queue index (respond_by, id) start there instead of reading every older lead first
        start = _day_start(value)
        return queryset.filter(received_at__gte=start, respond_by__gte=start)

    def filter_received_to(self, queryset, name, value):
        return queryset.filter(received_at__lt=_day_start(value + timedelta(days=1)))
