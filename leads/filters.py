from datetime import date

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q

from common.roles import Role
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


# Shared by the list pages (triage, referrals, finance) ------------------------------------------------------


def sales_ops_users():
    """Who may own a lead: active Sales Ops users (also the choices of the triage owner filter and reassign)."""
    return get_user_model().objects.filter(is_active=True, groups__name=Role.SALES_OPS).order_by("username")


def choices_once(form) -> None:
    """Read each model choice list with one query: a template looping over a ModelChoiceField's choices would
    run a COUNT and then the SELECT for every render."""
    for field in form.fields.values():
        if isinstance(field, forms.ModelChoiceField):
            # a comprehension, not list(): list() asks len() first, which is a COUNT; the plain ChoiceField
            # setter, because django-filter's own wraps the list in its model iterator again
            forms.ChoiceField.choices.fset(field, [choice for choice in field.choices])


# A date typed in a URL: outside this range it would leave the calendar once made a day's start or end (the day
# after 9999-12-31, the first hour of year 1 in UTC) or mean nothing; the form says so and the filter is not applied.
FILTER_DATES = (date(1900, 1, 1), date(2999, 12, 31))
FILTER_DATES_MESSAGE = f"Give a date from {FILTER_DATES[0]:%Y-%m-%d} to {FILTER_DATES[1]:%Y-%m-%d}."


class BoundedDateFilter(django_filters.DateFilter):
    """A DateFilter whose date must lie in FILTER_DATES."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "validators",
            [
                MinValueValidator(FILTER_DATES[0], FILTER_DATES_MESSAGE),
                MaxValueValidator(FILTER_DATES[1], FILTER_DATES_MESSAGE),
            ],
        )
        super().__init__(*args, **kwargs)
