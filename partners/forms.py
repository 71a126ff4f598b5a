from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from partners.models import FeeAgreement, FeeTier, Partner, ReferralMode

TIER_ROWS = 3
TIER_FIELDS = ("per_referral", "per_accepted", "per_conversion", "percent_of_deal")


class FeeAgreementForm(forms.ModelForm):
    class Meta:
        model = FeeAgreement
        fields = [
            "currency",
            "per_referral",
            "per_accepted",
            "per_conversion",
            "percent_of_deal",
            "percent_cap",
            "payment_terms_days",
            "valid_from",
            "valid_to",
            "notes",
        ]
        labels = {
            "per_referral": "Per referral sent",
            "per_accepted": "Per accepted referral",
            "per_conversion": "Per conversion (flat)",
            "percent_of_deal": "Percentage of the deal",
            "percent_cap": "Percentage cap per deal",
            "payment_terms_days": "Payment terms (days)",
            "valid_from": "First day",
            "valid_to": "Last day",
        }
        widgets = {
            "valid_from": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "valid_to": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("per_referral", "per_accepted", "per_conversion", "percent_of_deal", "percent_cap"):
            self.fields[name].validators.append(MinValueValidator(Decimal(0), "Must not be negative."))
            self.fields[name].widget.attrs["min"] = "0"
        self.fields["percent_of_deal"].validators.append(MaxValueValidator(Decimal(100), "At most 100%%."))
        self.fields["percent_of_deal"].widget.attrs["max"] = "100"
        _style(self)

    def clean(self):
        data = super().clean()
        if data.get("valid_to") and data.get("valid_from") and data["valid_to"] < data["valid_from"]:
            self.add_error("valid_to", "The last day is before the first day.")
        return data

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """FeeAgreementError.errors onto the fields they name (anything else above the form)."""
        for name, messages in errors.items():
            self.add_error(name if name in self.fields else None, messages)


def _style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        field.widget.attrs.setdefault("class", "form-control form-control-sm")


class TierForm(forms.Form):
    """One volume tier: from the Nth referral in a month, these amounts replace the base ones (blank = base)."""

    min_monthly_referrals = forms.IntegerField(label="From this many a month", min_value=2, required=False)
    per_referral = forms.DecimalField(
        label="Per referral", max_digits=14, decimal_places=2, min_value=0, required=False
    )
    per_accepted = forms.DecimalField(
        label="Per accepted", max_digits=14, decimal_places=2, min_value=0, required=False
    )
    per_conversion = forms.DecimalField(
        label="Per conversion", max_digits=14, decimal_places=2, min_value=0, required=False
    )
    percent_of_deal = forms.DecimalField(
        label="% of deal", max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)

    def clean(self):
        data = super().clean()
        overrides = any(data.get(name) is not None for name in TIER_FIELDS)
        if overrides and data.get("min_monthly_referrals") is None:
            self.add_error("min_monthly_referrals", "Say from how many referrals a month this tier applies.")
        return data


class BaseTierFormSet(forms.BaseFormSet):
    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        for field in form.fields.values():  # the rows sit in a table: each input says which tier it is
            field.widget.attrs["aria-label"] = f"Tier {i + 1}: {field.label}"
        return form

    def tiers(self) -> list[dict]:
        """The filled rows, as `fee_agreement_save(tiers=…)` takes them."""
        return [
            {"min_monthly_referrals": form.cleaned_data["min_monthly_referrals"]}
            | {name: form.cleaned_data.get(name) for name in TIER_FIELDS}
            for form in self.forms
            if form.cleaned_data.get("min_monthly_referrals") is not None
        ]


TierFormSet = forms.formset_factory(TierForm, formset=BaseTierFormSet, extra=0)


def tier_initial(agreement: FeeAgreement) -> list[dict]:
    """The agreement's tiers, then blank rows up to TIER_ROWS."""
    rows: list[FeeTier] = list(agreement.tiers.all()) if agreement.pk else []
    initial = [
        {"min_monthly_referrals": t.min_monthly_referrals} | {n: getattr(t, n) for n in TIER_FIELDS} for t in rows
    ]
    return initial + [{}] * max(0, TIER_ROWS - len(initial))


class ReferralSendForm(forms.Form):
    partner = forms.ModelChoiceField(queryset=Partner.objects.all())
    mode = forms.ChoiceField(choices=ReferralMode.choices)
    note = forms.CharField(max_length=2000, required=False)


class OutcomeForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in ("accept", "decline", "convert", "lose")])
    reason = forms.CharField(max_length=300, required=False)
    deal_value = forms.CharField(max_length=30, required=False)
    currency = forms.CharField(max_length=3, required=False)

    def clean_currency(self):
        return self.cleaned_data["currency"].strip().upper()

    def clean(self):
        data = super().clean()
        if data.get("action") == "convert" and not data.get("deal_value", "").strip():
            self.add_error("deal_value", "Give the deal value, like 12000 or 12000.50.")
        return data


class ReverseForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False)


def errors_text(form: forms.Form) -> str:
    """A bound form's errors as one sentence, for a message above the page."""
    parts = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = (field.label or name.replace("_", " ").capitalize()) if field else ""
        parts.append(f"{label}: {' '.join(errors)}" if label else " ".join(errors))
    return " ".join(parts)
