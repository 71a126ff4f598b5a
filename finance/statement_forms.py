"""Forms of the statement pages: uploading a statement, checking how it is read (mapping, conventions, sheet,
period), resolving a reconciliation item, the partner's matching settings, paying from a statement. The services
check everything again."""

from datetime import timedelta

from django import forms
from django.utils import timezone

from common.forms import AmountField, CurrencyField, amount_convention
from common.money import DECIMAL_SEPARATOR_CHOICES, AmountError, currency_code
from finance.models import DateOrder, ResolutionAction
from finance.statements.parsing import field_choices
from partners.models import Partner

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MAX_UPLOAD_MB = 50


def _style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select form-select-sm")
        elif isinstance(widget, forms.FileInput):
            widget.attrs.setdefault("class", "form-control")
        else:
            widget.attrs.setdefault("class", "form-control form-control-sm")


class PeriodMixin:
    def clean(self):
        data = super().clean()
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            self.add_error("period_end", "The period ends before it starts.")
        return data


class StatementUploadForm(PeriodMixin, forms.Form):
    partner = forms.ModelChoiceField(queryset=Partner.objects.order_by("name"), empty_label="Choose the partner")
    file = forms.FileField(
        label="Statement file",
        help_text="CSV (comma, semicolon or tab; UTF-8, UTF-16 or Windows/Excel) or an Excel workbook (.xlsx). "
        "Titles above the header and several sheets are fine.",
    )
    period_start = forms.DateField(
        label="Period from", required=False, widget=DATE, help_text="Blank: the lines' dates."
    )
    period_end = forms.DateField(label="Period until", required=False, widget=DATE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ".csv,.txt,.tsv,.xlsx"
        _style(self)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.0f} MB; a statement may be up to {MAX_UPLOAD_MB} MB."
            )
        return upload


class StatementCheckForm(PeriodMixin, forms.Form):
    """How to read the uploaded file: one select per column of its header, the conventions, the sheet, the period."""

    decimal_separator = forms.ChoiceField(label="Decimal mark", choices=DECIMAL_SEPARATOR_CHOICES)
    date_order = forms.ChoiceField(label="Dates", choices=DateOrder.choices)
    default_currency = CurrencyField(
        label="Currency", required=False, help_text="For lines that name none (blank: each line must name one)."
    )
    sheet = forms.ChoiceField(label="Sheet", required=False)
    period_start = forms.DateField(
        label="Period from", required=False, widget=DATE, help_text="Blank: the lines' dates."
    )
    period_end = forms.DateField(label="Period until", required=False, widget=DATE)

    def __init__(self, data=None, *, headers: list[str], sheets: list[str], **kwargs):
        super().__init__(data, **kwargs)
        self.headers = headers
        choices = [("", "— skip —"), *field_choices()]
        for index, header in enumerate(headers):
            self.fields[f"map-{index}"] = forms.ChoiceField(label=header, choices=choices, required=False)
        self.fields["sheet"].choices = [(name, name) for name in sheets]
        if len(sheets) < 2:
            self.fields["sheet"].widget = forms.HiddenInput()
        _style(self)

    def reading_fields(self):
        """The bound fields other than the columns' (conventions, sheet, period), in order."""
        names = ("decimal_separator", "date_order", "default_currency", "sheet", "period_start", "period_end")
        return [self[name] for name in names]

    def column_field(self, index: int):
        return self[f"map-{index}"]

    def mapping(self) -> dict[str, str]:
        return {header: self.cleaned_data.get(f"map-{index}") or "" for index, header in enumerate(self.headers)}


class ResolveForm(forms.Form):
    action = forms.ChoiceField(choices=ResolutionAction.choices)
    note = forms.CharField(label="Note", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    follow_up_on = forms.DateField(label="Follow up on", required=False, widget=DATE)
    referral = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["follow_up_on"].initial = timezone.localdate() + timedelta(days=7)
        _style(self)


class MatchingSettingsForm(forms.Form):
    match_window_days = forms.IntegerField(
        label="Date window (days)", min_value=0, max_value=366,
        help_text="How far a line's date may be from the fee when it is matched by the lead's email.",
    )  # fmt: skip
    tolerance_amount = AmountField(
        label="Tolerance (money)", min_value=0, help_text="A line this close to the fee counts as matched."
    )
    tolerance_percent = AmountField(
        label="Tolerance (% of the fee)", min_value=0, max_value=100, percent=True,
        help_text="… or this close as a share of the fee: whichever is larger.",
    )  # fmt: skip

    def __init__(self, *args, partner: Partner, **kwargs):
        super().__init__(*args, **kwargs)
        amount_convention(self, decimal_separator=partner.decimal_separator or ".")
        _style(self)


class StatementPayForm(forms.Form):
    amount = AmountField(label="Amount received", min_value=0)
    currency = CurrencyField(label="Currency")
    received_on = forms.DateField(label="Received on", widget=DATE)
    reference = forms.CharField(label="Reference", max_length=100, required=False)

    def __init__(self, data=None, *, partner: Partner, **kwargs):
        super().__init__(data, **kwargs)
        raw = str((data or {}).get("currency") or "").strip()
        try:
            currency = currency_code(raw) if raw else None
        except AmountError:
            currency = None
        amount_convention(self, decimal_separator=partner.decimal_separator or ".", currency=currency)
        self.fields["received_on"].initial = timezone.localdate()
        _style(self)
