"""OutboundMessage moves from nurture to the outbox app: the table (`nurture_outboundmessage`) and its rows stay
where they are; only Django's idea of which app owns the model changes (nurture.0005 drops it from nurture's
state). The model's content type follows it, so its permissions and admin history carry over."""

import django.db.models.deletion
from django.db import migrations, models

import outbox.models


def content_type_to(app_label: str, from_label: str):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        if not ContentType.objects.filter(app_label=app_label, model="outboundmessage").exists():
            ContentType.objects.filter(app_label=from_label, model="outboundmessage").update(app_label=app_label)

    return move


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("leads", "0001_initial"),
        ("partners", "0001_initial"),
        ("nurture", "0004_outbound_message_id_unknown"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OutboundMessage",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("idempotency_key", models.CharField(max_length=200, unique=True)),
                        ("message_id", models.CharField(default=outbox.models.new_message_id, editable=False, max_length=255, unique=True, verbose_name="Message-ID")),
                        ("kind", models.CharField(help_text="partner_introduction, lead_signpost, partner_reminder…", max_length=50)),
                        ("to_email", models.EmailField(max_length=254)),
                        ("to_name", models.CharField(blank=True, max_length=200)),
                        ("subject", models.CharField(max_length=300)),
                        ("body", models.TextField()),
                        ("status", models.CharField(choices=[("queued", "Queued"), ("sending", "Sending"), ("sent", "Sent"), ("failed", "Failed (gave up)"), ("unknown", "Outcome unknown (held)"), ("cancelled", "Cancelled")], default="queued", max_length=10)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True)),
                        ("next_attempt_at", models.DateTimeField(help_text="Not before: the sweep sends queued rows past this time.")),
                        ("claimed_at", models.DateTimeField(blank=True, null=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("lead", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="messages", to="leads.lead")),
                        ("referral", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="messages", to="partners.referral")),
                    ],
                    options={
                        "db_table": "nurture_outboundmessage",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [models.Index(fields=["status", "next_attempt_at"], name="outbound_status_next")],
                    },
                ),
            ],
            database_operations=[
                migrations.RunPython(content_type_to("outbox", "nurture"), content_type_to("nurture", "outbox")),
            ],
        ),
    ]
