"""Admin forms for what nurture sends: email subjects and bodies are Django templates, compiled on save the way
the senders compile them, so a syntax error is shown on the field (with its line) instead of breaking a page or
a send later. Variables that do not exist are fine: they render empty."""

from django import forms
from django.core.exceptions import ValidationError
from django.template import Template, TemplateSyntaxError

from common.limits import HOURS_RANGE, ColumnRangeFormMixin
from nurture.models import HelpfulReply, Step, StepKind


def template_problem(text: str) -> str:
    """Why `text` is not a usable template, with the line ("" when it compiles)."""
    try:
        Template(text)
    except TemplateSyntaxError as exc:
        message = str(exc).splitlines()[0].removesuffix(" Must be one of:")
        token = getattr(exc, "token", None)
        if token is None or f"line {token.lineno}" in message:
            return f"Template error: {message}"
        return f"Template error on line {token.lineno}: {message}"
    return ""


def _check_templates(form: forms.ModelForm, names: tuple[str, ...]) -> None:
    for name in names:
        text = form.cleaned_data.get(name)
        if text and (problem := template_problem(text)):
            form.add_error(name, ValidationError(problem, code="template"))


class HelpfulReplyAdminForm(forms.ModelForm):
    class Meta:
        model = HelpfulReply
        fields = "__all__"  # noqa: DJ007 - as the admin does by default; its own field lists still apply

    def clean(self):
        cleaned = super().clean()
        _check_templates(self, ("subject", "body"))
        return cleaned


class StepAdminForm(ColumnRangeFormMixin, forms.ModelForm):
    """An email step's subject and body are templates (and both are needed); a task's body is plain text."""

    value_ranges = {"delay_hours": HOURS_RANGE}

    class Meta:
        model = Step
        fields = "__all__"  # noqa: DJ007 - as the admin does by default; its own field lists still apply

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == StepKind.EMAIL:
            for name in ("subject", "body"):
                if name in self.fields and not (cleaned.get(name) or "").strip() and name not in self.errors:
                    self.add_error(name, "An email step needs one.")
            _check_templates(self, ("subject", "body"))
        return cleaned
