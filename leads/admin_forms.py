"""Admin forms for what the rule engine reads: a criterion's field chosen from the fields the engine knows, its
value checked by the engine itself (`engine.rule_problems`), so the admin cannot save a rule that a page or an
evaluation would then trip over. Partner acceptance criteria use the same base."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst

from common.limits import HOURS_RANGE, ColumnRangeFormMixin
from leads import engine
from leads.models import Criterion, DisqualificationReason, Lead, LeadSource, RedirectKind
from leads.services.base import NUMBER_RANGES

ATTRIBUTE = "attributes"  # the field choice that takes a key: attributes.<key>
TYPE_GROUPS = [(engine.TEXT, "Text"), (engine.NUMBER, "Number"), (engine.BOOLEAN, "Yes / no"), (engine.POINT, "Place")]
VALUE_HELP = (
    "JSON, by operator: a single value (600, “retail”, true); “is one of”: a list ([“GB”, “IE”]); “between”: "
    "[low, high] ([18, 65]); “within N km”: {“lat”: 51.5, “lon”: -0.12, “km”: 50}; “is set” / “is missing”: "
    "empty. Plain words without quotes are read as one text value."
)
FIELD_HELP = (
    "A lead field, or “an attribute” (the lead's attributes JSON, compared as the value type says) "
    "with its key typed in the box: letters, digits, - and _."
)


def _field_label(name: str) -> str:
    if name == "location":
        return "Location (latitude, longitude)"
    label = str(Lead._meta.get_field(name).verbose_name)
    return capfirst(label) if label.replace(" ", "_") == name else f"{capfirst(label)} ({name})"


def field_choices() -> list:
    """The fields the engine knows, grouped by type and labelled, then the attribute form."""
    groups: list = [("", "---------")]
    for kind, label in TYPE_GROUPS:
        names = [name for name, field_kind in engine.FIELD_TYPES.items() if field_kind == kind]
        groups.append((label, [(name, _field_label(name)) for name in names]))
    groups.append(("Attribute", [(ATTRIBUTE, "an attribute: attributes.<key> (type the key)")]))
    return groups


class CriterionFieldWidget(forms.MultiWidget):
    """A select of the engine's fields and a box for an attribute's key (posted as `<name>` and `<name>_key`)."""

    def __init__(self, attrs=None):
        widgets = {"": forms.Select(), "key": forms.TextInput(attrs={"placeholder": "attribute key", "size": 16})}
        super().__init__(widgets, attrs)

    def decompress(self, value):
        if not value:
            return ["", ""]
        if value.startswith(f"{ATTRIBUTE}."):
            return [ATTRIBUTE, value.removeprefix(f"{ATTRIBUTE}.")]
        return [value, ""]


class CriterionFieldField(forms.MultiValueField):
    widget = CriterionFieldWidget

    def __init__(self, **kwargs):
        kwargs.pop("max_length", None)
        choice = forms.ChoiceField(choices=field_choices())
        key = forms.CharField(required=False, strip=True)
        super().__init__(fields=(choice, key), require_all_fields=False, **kwargs)
        self.widget.widgets[0].choices = choice.choices

    def add_unknown_choice(self, value: str) -> None:
        """Show a stored field the engine does not know, so that the person sees it and changes it."""
        choice = self.fields[0]
        choice.choices = [*choice.choices, ("Not a field the engine knows", [(value, f"{value} (unknown)")])]
        self.widget.widgets[0].choices = choice.choices

    def compress(self, data_list):
        if not data_list:
            return ""
        choice, key = [*data_list, "", ""][:2]
        if choice == ATTRIBUTE:
            return f"{ATTRIBUTE}.{key}"  # a blank or odd key: the engine says what is wrong with it
        if key:
            raise ValidationError("A key goes with “an attribute” only: choose that, or empty the key box.")
        return choice


class RuleValueField(forms.JSONField):
    """The criterion's value as JSON on one line; words that are not JSON are read as one text value."""

    widget = forms.TextInput(attrs={"size": 40})

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError:
            return value.strip()

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


class RuleFormBase(forms.ModelForm):
    """A criterion form checked by the engine: each problem `engine.rule_problems` finds is shown on the part it
    is about. Subclasses say whether the rule is a knock-out and its weight (a partner's always knock out)."""

    field = CriterionFieldField(label="Field", help_text=FIELD_HELP)
    value = RuleValueField(required=False, help_text=VALUE_HELP)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.initial.get("field") or ""
        if stored and not stored.startswith(f"{ATTRIBUTE}.") and stored not in engine.FIELD_TYPES:
            self.fields["field"].add_unknown_choice(stored)

    def rule_kind(self, cleaned: dict) -> tuple[bool, int]:
        """(hard, weight) of the rule being edited."""
        return True, 0

    def clean(self):
        cleaned = super().clean()
        if any(name in self.errors for name in ("field", "operator", "value", "value_type", "hard", "weight")):
            return cleaned
        hard, weight = self.rule_kind(cleaned)
        rule = engine.Rule(
            id=0,
            field=cleaned.get("field", ""),
            operator=cleaned.get("operator", ""),
            value=cleaned.get("value"),
            value_type=cleaned.get("value_type") or engine.TEXT,
            hard=hard,
            weight=weight,
        )
        for problem in engine.rule_problems(rule):
            part = problem.part if problem.part in self.fields else None
            self.add_error(part, problem.message[:1].upper() + problem.message[1:] + ".")
        return cleaned


class CriterionAdminForm(RuleFormBase):
    class Meta:
        model = Criterion
        fields = "__all__"  # noqa: DJ007 - as the admin does by default; its own field lists still apply

    def rule_kind(self, cleaned: dict) -> tuple[bool, int]:
        return bool(cleaned.get("hard")), cleaned.get("weight") or 0


class DisqualificationReasonAdminForm(forms.ModelForm):
    redirect_kinds = forms.MultipleChoiceField(
        choices=RedirectKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The redirects that usually help leads with this reason.",
    )

    class Meta:
        model = DisqualificationReason
        fields = "__all__"  # noqa: DJ007 - as the admin does by default; its own field lists still apply

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.initial.get("redirect_kinds") or []
        stored = stored if isinstance(stored, list) else [stored]
        known = set(RedirectKind.values)
        unknown = [str(kind) for kind in stored if kind not in known]
        if unknown:  # shown ticked, so that the person sees them and unticks them
            field = self.fields["redirect_kinds"]
            field.choices = [*field.choices, *((kind, f"{kind} (not a redirect kind)") for kind in unknown)]
        self.initial["redirect_kinds"] = [str(kind) for kind in stored]

    def clean_redirect_kinds(self) -> list[str]:
        chosen = self.cleaned_data["redirect_kinds"]
        unknown = [kind for kind in chosen if kind not in RedirectKind.values]
        if unknown:
            raise ValidationError(f"Not a redirect kind: {', '.join(unknown)}. Untick it.")
        return [kind for kind in RedirectKind.values if kind in chosen]


class LeadSourceAdminForm(ColumnRangeFormMixin, forms.ModelForm):
    value_ranges = {"sla_hours": HOURS_RANGE}  # received_at + the SLA must stay in the calendar

    class Meta:
        model = LeadSource
        fields = "__all__"  # noqa: DJ007 - as the admin does by default; its own field lists still apply


class LeadAdminForm(ColumnRangeFormMixin, forms.ModelForm):
    value_ranges = NUMBER_RANGES

    class Meta:
        model = Lead
        fields = "__all__"  # noqa: DJ007 - as the admin does by default; its own field lists still apply

    def clean_attributes(self):
        attributes = self.cleaned_data.get("attributes")
        if attributes is None:
            return {}
        if not isinstance(attributes, dict):
            raise ValidationError('Give a JSON object of names and values, e.g. {"segment": "smb", "seats": 12}.')
        return attributes
