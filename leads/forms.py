from django import forms
from django.conf import settings

from common.forms import AmountField, ConfirmField, ReasonField, amount_convention, bound_currency
from common.limits import ColumnRangeFormMixin
from common.money import AmountError, currency_code
from leads.fields import BY_NAME, DATA_FIELDS, EDITABLE_FIELDS, NUMBER_RANGES, lead_rules_problems
from leads.models import Lead, LeadSource


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
        fields = EDITABLE_FIELDS  # the fields, labels and help as leads/fields.py declares them
        labels = {name: BY_NAME[name].label for name in EDITABLE_FIELDS}
        help_texts = {name: BY_NAME[name].help for name in EDITABLE_FIELDS if BY_NAME[name].help}
        widgets = {
            "message": forms.Textarea(attrs={"rows": 3}),
            "is_decision_maker": forms.NullBooleanSelect(attrs={"class": "form-select form-select-sm"}),
        }

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

    def clean(self):
        """The rules between fields (a budget needs a currency, …) on the lead as it would be saved: the same check
        as the API's, the import's and the services' (`leads.fields.lead_rules_problems`)."""
        cleaned = super().clean()
        values = {name: getattr(self.instance, name) for name in DATA_FIELDS}
        values.update({name: value for name, value in cleaned.items() if name not in self.errors})
        for field, messages in lead_rules_problems(values).items():
            if field not in self.errors:  # a currency that is not ISO 4217 already says what is wrong
                for message in messages:
                    self.add_error(field, message)
        return cleaned

    def changed_data_values(self) -> dict:
        return {field: self.cleaned_data[field] for field in self.changed_data}


class ICPPublishForm(forms.Form):
    """Publishing cannot be undone: the page lists what happens, and asks for a ticked confirmation and why."""

    reason = ReasonField(
        label="Why publish this version (a few words)", example="Raise the minimum company size to 50 employees"
    )
    confirm = ConfirmField(label="I understand this version goes into force and cannot be unpublished")
