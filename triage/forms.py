"""Forms of the triage workspace. They parse what was posted; the services in triage/services.py decide what is
allowed (a reason to close, a note to override, consent to introduce…) and their errors land on these fields."""

from django import forms

from leads.filters import choices_once, sales_ops_users
from leads.services import CLOSE_KINDS
from nurture.models import HelpfulReply, Track
from partners.models import Partner, ReferralMode


class TriageForm(forms.Form):
    """A triage form; a service's refusal lands on its fields through `common.htmx.add_service_errors`."""


class ReferForm(TriageForm):
    partner = forms.ModelChoiceField(queryset=None, error_messages={"required": "Choose a partner."})
    mode = forms.ChoiceField(choices=[])
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 1}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = Partner.objects.all()
        self.fields["mode"].choices = ReferralMode.choices


class EnrollForm(TriageForm):
    track = forms.ModelChoiceField(queryset=None, error_messages={"required": "Choose a track."})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["track"].queryset = Track.objects.prefetch_related("steps")


class ReplyForm(TriageForm):
    """Subject and body may be edited freely; the service refuses them empty."""

    reply = forms.ModelChoiceField(queryset=None, required=False)
    subject = forms.CharField(required=False, max_length=300)
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reply"].queryset = HelpfulReply.objects.all()


class CloseForm(TriageForm):
    kind = forms.ChoiceField(choices=[("", "Choose…"), *CLOSE_KINDS.items()], required=False)
    reason = forms.CharField(required=False, max_length=500)


class OverrideForm(TriageForm):
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class AssignForm(TriageForm):
    owner = forms.ModelChoiceField(queryset=None, required=False, empty_label="Unassigned")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = sales_ops_users()


class LeadIdsField(forms.Field):
    """The ticked rows of the queue (checkboxes named `tick`, which belong to the bulk form)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": "Tick at least one lead in the table.",
        "invalid": "Those are not lead numbers.",
    }

    def to_python(self, value):
        try:
            return sorted({int(pk) for pk in value or []})
        except (TypeError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


BULK_ACTIONS = [
    ("enroll", "Enroll in a nurture track"),
    ("reply", "Send each its reason’s reply"),
    ("close_spam", "Close as spam"),
]


class BulkForm(TriageForm):
    tick = LeadIdsField(label="Ticked leads")
    action = forms.ChoiceField(
        choices=[("", "Choose an action…"), *BULK_ACTIONS], error_messages={"required": "Choose an action."}
    )
    track = forms.ModelChoiceField(queryset=None, required=False, empty_label="Choose a track…")
    reason = forms.CharField(required=False, max_length=500, label="Why they are spam")
    q = forms.CharField(required=False, widget=forms.HiddenInput)  # the queue's query string, to go back to

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["track"].queryset = Track.objects.filter(active=True).order_by("name")
        choices_once(self)

    def clean(self):
        data = super().clean()
        if data.get("action") == "enroll" and not data.get("track"):
            self.add_error("track", "Choose the track to enroll them in.")
        return data
