from django import forms

from common.forms import (
    AmountField,
    ConfirmField,
    CurrencyField,
    ReasonField,
    amount_convention,
    bound_currency,
    convention_text,
)
from common.limits import ColumnRangeFormMixin
from common.money import EXAMPLES
from partners.models import FeeAgreement, FeeTier, Partner, Referral, ReferralMode

TIER_ROWS = 3
TIER_FIELDS = ("per_referral", "per_accepted", "per_conversion", "percent_of_deal")


class FeeAgreementForm(ColumnRangeFormMixin, forms.ModelForm):
    """Amounts are text read in the partner's convention (`Partner.decimal_separator`) and the agreement's currency."""

    currency = CurrencyField(label="Currency", help_text="ISO 4217 code, such as EUR.")
    per_referral = AmountField(label="Per referral sent", min_value=0)
    per_accepted = AmountField(label="Per accepted referral", min_value=0)
    per_conversion = AmountField(label="Per conversion (flat)", min_value=0)
    percent_of_deal = AmountField(
        label="Percentage of the deal", percent=True, max_digits=5, min_value=0, max_value=100
    )
    percent_cap = AmountField(
        label="Percentage cap per deal", required=False, min_value=0, help_text="Most the percentage can earn per deal."
    )

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
        self.decimal_separator = self.instance.partner.decimal_separator
        self.amount_currency = bound_currency(self, default=self.instance.currency or None)
        amount_convention(self, decimal_separator=self.decimal_separator, currency=self.amount_currency)
        self.convention = convention_text(self.decimal_separator)
        _style(self)

    def clean(self):
        data = super().clean()
        if data.get("valid_to") and data.get("valid_from") and data["valid_to"] < data["valid_from"]:
            self.add_error("valid_to", "The last day is before the first day.")
        return data


def _style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        field.widget.attrs.setdefault("class", "form-control form-control-sm")


class TierForm(ColumnRangeFormMixin, forms.Form):
    """One volume tier: from the Nth referral in a month, these amounts replace the base ones (blank = base)."""

    column_model = FeeTier  # its integer fields refuse what FeeTier's columns cannot hold

    min_monthly_referrals = forms.IntegerField(label="From this many a month", min_value=2, required=False)
    per_referral = AmountField(label="Per referral", min_value=0, required=False)
    per_accepted = AmountField(label="Per accepted", min_value=0, required=False)
    per_conversion = AmountField(label="Per conversion", min_value=0, required=False)
    percent_of_deal = AmountField(
        label="% of deal", percent=True, max_digits=5, min_value=0, max_value=100, required=False
    )

    def __init__(self, *args, decimal_separator: str = ".", currency: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        amount_convention(self, decimal_separator=decimal_separator, currency=currency)
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


def agreement_forms(data, agreement: FeeAgreement) -> tuple[FeeAgreementForm, BaseTierFormSet]:
    """The agreement form and its tier rows, all reading amounts in the partner's convention and the currency."""
    form = FeeAgreementForm(data, instance=agreement)
    convention = {"decimal_separator": form.decimal_separator, "currency": form.amount_currency}
    tiers = TierFormSet(data, prefix="tiers", initial=tier_initial(agreement), form_kwargs=convention)
    return form, tiers


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
    """An outcome recorded on the partner's behalf; the deal value is read in the partner's convention."""

    action = forms.ChoiceField(choices=[(a, a) for a in ("accept", "decline", "convert", "lose")])
    reason = forms.CharField(max_length=300, required=False)
    deal_value = AmountField(label="Deal value", required=False)
    currency = CurrencyField(label="Currency", required=False)

    def __init__(self, *args, referral: Referral, **kwargs):
        super().__init__(*args, **kwargs)
        self.decimal_separator = referral.partner.decimal_separator
        terms_currency = (referral.fee_terms or {}).get("currency") or None
        currency = bound_currency(self, default=terms_currency)
        amount_convention(self, decimal_separator=self.decimal_separator, currency=currency)

    def clean(self):
        data = super().clean()
        if data.get("action") == "convert" and data.get("deal_value") is None and "deal_value" not in self.errors:
            self.add_error("deal_value", f"Give the deal value, like {EXAMPLES[self.decimal_separator]}.")
        return data


class ReverseForm(forms.Form):
    """Reversing a conversion cannot be undone (the referral becomes lost, each conversion fee gets a negative
    ledger row): the page lists that, and asks for a ticked confirmation and a reason in a few words."""

    confirm = ConfirmField(label="I understand this cannot be undone")
    reason = ReasonField(
        label="Why the conversion did not stand", min_words=3, example="The customer cancelled and was refunded"
    )


class DealValueForm(forms.Form):
    """Correcting a converted referral's deal value (Finance): the new value in the partner's convention, and why."""

    deal_value = AmountField(label="Correct deal value")
    reason = forms.CharField(label="Why the deal value is corrected", max_length=250)

    def __init__(self, *args, referral: Referral, **kwargs):
        super().__init__(*args, **kwargs)
        currency = referral.deal_currency or (referral.fee_terms or {}).get("currency") or None
        amount_convention(self, decimal_separator=referral.partner.decimal_separator, currency=currency)
