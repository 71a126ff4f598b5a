from datetime import timedelta

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from leads.filters import choices_once
from nurture.models import Enrollment, EnrollmentStatus, NurtureTask, Track

DUE_WITHIN = timedelta(hours=24)


class EnrollmentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search")
    track = django_filters.ModelChoiceFilter(queryset=Track.objects.order_by("name"), empty_label="Any track")
    status = django_filters.ChoiceFilter(choices=EnrollmentStatus.choices, empty_label="Any status")
    due = django_filters.BooleanFilter(method="filter_due", widget=forms.CheckboxInput, label="Due within 24 h")

    class Meta:
        model = Enrollment
        fields = ["q", "track", "status", "due"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices_once(self.form)

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(lead__email__icontains=value) | Q(lead__name__icontains=value))

    def filter_due(self, queryset, name, value):
        """Active enrollments whose next step runs in the next 24 hours (or is overdue)."""
        if not value:
            return queryset
        return queryset.filter(status=EnrollmentStatus.ACTIVE, next_run_at__lte=timezone.now() + DUE_WITHIN)


WHO_CHOICES = [("mine", "Mine"), ("unassigned", "Unassigned (the team’s)"), ("all", "Everyone’s")]


class TaskFilter(django_filters.FilterSet):
    """Open tasks; `who` is "mine" unless the URL says otherwise. Pass `request` (mine needs the user)."""

    who = django_filters.ChoiceFilter(choices=WHO_CHOICES, method="filter_who", empty_label=None, label="Whose")

    class Meta:
        model = NurtureTask
        fields = ["who"]

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and not data.get("who"):
            data = data.copy()
            data["who"] = "mine"
        super().__init__(data, *args, **kwargs)

    def filter_who(self, queryset, name, value):
        if value == "mine":
            return queryset.filter(assigned_to=getattr(self.request, "user", None))
        if value == "unassigned":
            return queryset.filter(assigned_to__isnull=True)
        return queryset
