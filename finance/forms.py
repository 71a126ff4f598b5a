"""Finance forms: amounts are read as people type them (`common.forms.AmountField`, in the partner's convention),
currencies are ISO codes; the services check everything again (every door obeys the same rules)."""

from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone

from common.forms import AmountField, CurrencyField, amount_convention
from common.money import AmountError, currency_code
from finance import selectors
from finance.services import month_end
from leads.filters import FILTER_DATES, FILTER_DATES_MESSAGE
from partners.models import FeeAccrual, Partner

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATE_RANGE = [
    MinValueValidator(FILTER_DATES[0], FILTER_DATES_MESSAGE),
    MaxValueValidator(FILTER_DATES[1], FILTER_DATES_MESSAGE),
]


def _style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select form-select-sm")
        else:
            widget.attrs.setdefault("class", "form-control form-control-sm")


def partner_convention(data, *, partner: Partner | None = None) -> str:
    """The decimal separator to read amounts with: the chosen partner's ("." until one is chosen)."""
    if partner is None:
        pk = (data or {}).get("partner")
        partner = Partner.objects.filter(pk=pk).only("decimal_separator").first() if str(pk or "").isdigit() else None
    return partner.decimal_separator if partner is not None else "."


class PaymentForm(forms.Form):
    partner = forms.ModelChoiceField(queryset=selectors.partner_choices(), empty_label="Choose the partner")
    amount = AmountField(label="Amount received")
    currency = CurrencyField(label="Currency")
    received_on = forms.DateField(label="Received on", widget=DATE, validators=DATE_RANGE)
    reference = forms.CharField(label="Reference", max_length=100, required=False)
    note = forms.CharField(label="Note", max_length=300, required=False)

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        raw = str((data or {}).get("currency") or "").strip()
        try:
            currency = currency_code(raw) if raw else None
        except AmountError:
            currency = None  # the currency field reports it; the amount is read without one
        amount_convention(self, decimal_separator=partner_convention(data), currency=currency)
        self.fields["received_on"].initial = timezone.localdate()
        _style(self)


class AllocationForm(forms.Form):
    """By hand: an amount per open fee of the payment's partner in its currency (blank = nothing to that fee)."""

    def __init__(self, data=None, *, payment, items, **kwargs):
        super().__init__(data, **kwargs)
        self.items = list(items)
        for item in self.items:
            self.fields[f"fee_{item.pk}"] = AmountField(
                label=f"{item.referral.tracking_code} {item.get_kind_display()}", required=False, min_value=0
            )
        amount_convention(self, decimal_separator=payment.partner.decimal_separator, currency=payment.currency)
        _style(self)

    def rows(self):
        """(item, field) pairs for the template."""
        return [(item, self[f"fee_{item.pk}"]) for item in self.items]

    def allocations(self) -> list[tuple[FeeAccrual, Decimal]]:
        return [
            (item, self.cleaned_data[f"fee_{item.pk}"])
            for item in self.items
            if self.cleaned_data.get(f"fee_{item.pk}")
        ]


class BounceForm(forms.Form):
    reason = forms.CharField(label="Why it bounced", max_length=300)
    bounced_on = forms.DateField(label="Bounced on", widget=DATE, required=False, validators=DATE_RANGE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)


class AdjustForm(forms.Form):
    prefix = "adjust"
    amount = AmountField(label="Raise (+) or lower (−) the fee by")
    reason = forms.CharField(label="Why", max_length=250)

    def __init__(self, data=None, *, accrual: FeeAccrual, **kwargs):
        super().__init__(data, **kwargs)
        amount_convention(self, decimal_separator=accrual.partner.decimal_separator, currency=accrual.currency)
        _style(self)


class WriteOffForm(forms.Form):
    prefix = "writeoff"
    amount = AmountField(label="Write off (blank = all that is open)", required=False, min_value=0)
    reason = forms.CharField(label="Why", max_length=250)

    def __init__(self, data=None, *, accrual: FeeAccrual, **kwargs):
        super().__init__(data, **kwargs)
        amount_convention(self, decimal_separator=accrual.partner.decimal_separator, currency=accrual.currency)
        _style(self)


class LockForm(forms.Form):
    month = forms.CharField(label="Close the month", widget=forms.TextInput(attrs={"type": "month"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        last = timezone.localdate().replace(day=1) - timedelta(days=1)
        self.fields["month"].initial = f"{last:%Y-%m}"
        _style(self)

    def clean_month(self) -> date:
        text = self.cleaned_data["month"].strip()
        try:
            year, month = (int(part) for part in text.split("-"))
            first = date(year, month, 1)
        except ValueError:
            raise forms.ValidationError("Give a month like 2026-03.") from None
        if not FILTER_DATES[0] <= first <= FILTER_DATES[1]:
            raise forms.ValidationError(FILTER_DATES_MESSAGE)
        return first


def last_month() -> tuple[date, date]:
    end = timezone.localdate().replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


class PeriodForm(forms.Form):
    """A date range (both days included); defaults to last month."""

    start = forms.DateField(label="From", widget=DATE, required=False, validators=DATE_RANGE)
    end = forms.DateField(label="Until", widget=DATE, required=False, validators=DATE_RANGE)

    def __init__(self, *args, default: tuple[date, date] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.default = default or last_month()
        _style(self)

    def clean(self):
        data = super().clean()
        start, end = data.get("start") or self.default[0], data.get("end") or self.default[1]
        if start > end:
            self.add_error("end", "The last day is before the first day.")
        elif (end - start).days > 3660:
            self.add_error("end", "At most ten years at a time.")
        data["start"], data["end"] = start, end
        return data

    def period(self) -> tuple[date, date]:
        """The cleaned range, or the default when the form is not valid."""
        if self.is_valid():
            return self.cleaned_data["start"], self.cleaned_data["end"]
        return self.default


def month_bounds(day: date) -> tuple[date, date]:
    return day.replace(day=1), month_end(day)
