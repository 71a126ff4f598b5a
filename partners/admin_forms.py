"""Admin forms for partners: countries picked from ISO 3166 (pycountry), acceptance criteria checked by the ICP's
rule engine exactly as ICP criteria are (`leads.admin_forms.RuleFormBase`)."""

import pycountry
from django import forms
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import ValidationError

from common.limits import HOURS_RANGE, ColumnRangeFormMixin
from leads.admin_forms import RuleFormBase
from leads.services.base import NUMBER_RANGES
from partners.matching import country_codes
from partners.models import Partner, PartnerCriterion

COUNTRY_CHOICES = sorted(
    ((country.alpha_2, f"{country.alpha_2} — {country.name}") for country in pycountry.countries),
    key=lambda choice: choice[1],
)
COUNTRY_CODES = {code for code, _ in COUNTRY_CHOICES}


class PartnerAdminForm(ColumnRangeFormMixin, forms.ModelForm):
    value_ranges = {
        "acceptance_window_hours": HOURS_RANGE,
        "latitude": NUMBER_RANGES["latitude"],
        "longitude": NUMBER_RANGES["longitude"],
    }
    countries = forms.MultipleChoiceField(
        choices=COUNTRY_CHOICES,
        required=False,
        widget=FilteredSelectMultiple("countries", is_stacked=False),
        help_text="ISO 3166 countries they serve (none, and no radius: anywhere).",
    )

    class Meta:
        model = Partner
        fields = "__all__"  # noqa: DJ007 - as the admin does by default; its own field lists still apply

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = sorted(country_codes(self.initial.get("countries")))
        unknown = [code for code in stored if code not in COUNTRY_CODES]
        if unknown:  # shown selected, so that the person sees them and takes them out
            field = self.fields["countries"]
            field.choices = [*field.choices, *((code, f"{code} — not an ISO 3166 code") for code in unknown)]
        self.initial["countries"] = stored

    def clean_countries(self) -> list[str]:
        chosen = self.cleaned_data["countries"]
        unknown = [code for code in chosen if code not in COUNTRY_CODES]
        if unknown:
            raise ValidationError(f"Not an ISO 3166 country code: {', '.join(unknown)}. Take it out.")
        return sorted(set(chosen))


class PartnerCriterionAdminForm(RuleFormBase):
    """A partner's criterion is a knock-out (each must hold), as matching reads it."""

    class Meta:
        model = PartnerCriterion
        fields = "__all__"
