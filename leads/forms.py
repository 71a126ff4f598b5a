from django import forms
from django.conf import settings

from leads.models import LeadSource


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
