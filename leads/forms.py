from django import forms
from django.conf import settings

from common.forms import AmountField, ConfirmField, ReasonField, amount_convention, bound_currency
from common.limits import ColumnRangeFormMixin
from common.money import AmountError, currency_code
from leads.models import Lead, LeadSource
from leads.services import EDITABLE_FIELDS
from leads.services.base import NUMBER_RANGES


class ImportUploadForm(forms.Form):
    source = forms.ModelChoiceField(
        queryset=LeadSource.objects.order_by("name"), help_text="Which inbound source these leads came from."
    )
    file = forms.FileField(
        label="CSV file",
        help_text="Comma, semicolon or tab separated; UTF-8 or Windows/Excel encoding; first row = column names.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.0f} MB; the page takes up to {settings.IMPORT_MAX_UPLOAD_MB} "
                "MB. Split it, or ask an admin to run `manage.py import_leads`."
            )
        return upload


class LeadEditForm(ColumnRangeFormMixin, forms.ModelForm):
    """The lead's data as sales ops may correct it; saved through `lead_update` (which re-checks the ICP).
    Numbers are held to what the data can mean (employees, credit score, latitude, longitude)."""

    value_ranges = NUMBER_RANGES
    budget = AmountField(label="Budget", decimal_separator=None, min_value=0, required=False)

    class Meta:
        model = Lead
        fields = EDITABLE_FIELDS
        widgets = {
            "message": forms.Textarea(attrs={"rows": 3}),
            "is_decision_maker": forms.NullBooleanSelect(attrs={"class": "form-select form-select-sm"}),
        }
        labels = {"is_decision_maker": "Decides?"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        currency = bound_currency(self, "budget_currency", default=self.instance.budget_currency or None)
        amount_convention(self, decimal_separator=None, currency=currency)  # no partner: either mark, unambiguous

    def clean_country(self):
        return (self.cleaned_data.get("country") or "").strip().upper()

    def clean_budget_currency(self):
        value = (self.cleaned_data.get("budget_currency") or "").strip()
        try:
            return currency_code(value) if value else ""  # ISO 4217: "POU" or "pounds" is refused, with why
        except AmountError as exc:
            raise forms.ValidationError(str(exc)) from None

    def changed_data_values(self) -> dict:
        return {field: self.cleaned_data[field] for field in self.changed_data}


class ICPPublishForm(forms.Form):
    """Publishing cannot be undone: the page lists what happens, and asks for a ticked confirmation and why."""

    reason = ReasonField(
        label="Why publish this version (a few words)", example="Raise the minimum company size to 50 employees"
    )
    confirm = ConfirmField(label="I understand this version goes into force and cannot be unpublished")
