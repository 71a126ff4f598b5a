"""Forms of the nurture pages. They parse what was posted; the services in nurture/services.py decide what is
allowed (consent, do-not-contact, a reason to stop, a non-empty reply) and their errors land on these fields."""

from django import forms

from nurture.models import HelpfulReply, Track


class NurtureForm(forms.Form):
    """A nurture form; a service's refusal lands on its fields through `common.htmx.add_service_errors`."""


class EnrollForm(NurtureForm):
    track = forms.ModelChoiceField(
        queryset=Track.objects.prefetch_related("steps"),
        error_messages={"required": "Choose a track.", "invalid_choice": "That track does not exist."},
    )


class StopForm(NurtureForm):
    """The reason may be left empty here: the service refuses a stop without one, with its own message."""

    reason = forms.CharField(required=False, max_length=300)


class ReplyForm(NurtureForm):
    """Subject and body may be edited freely; the service refuses them empty."""

    reply = forms.ModelChoiceField(queryset=HelpfulReply.objects.filter(active=True), required=False)
    subject = forms.CharField(required=False, max_length=300)
    body = forms.CharField(required=False, widget=forms.Textarea)
