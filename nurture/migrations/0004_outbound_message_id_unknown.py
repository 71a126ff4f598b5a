"""OutboundMessage.message_id (a stable Message-ID per email, one per existing row too) and the `unknown` status."""

from django.db import migrations, models

import outbox.models


def fill_message_ids(apps, schema_editor):
    OutboundMessage = apps.get_model("nurture", "OutboundMessage")
    rows = list(OutboundMessage.objects.filter(message_id="").only("pk"))
    for row in rows:
        row.message_id = outbox.models.new_message_id()
    OutboundMessage.objects.bulk_update(rows, ["message_id"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("nurture", "0003_tracks_enrollments_replies"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboundmessage",
            name="message_id",
            field=models.CharField(default="", editable=False, max_length=255, verbose_name="Message-ID"),
            preserve_default=False,
        ),
        migrations.RunPython(fill_message_ids, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="outboundmessage",
            name="message_id",
            field=models.CharField(
                default=outbox.models.new_message_id,
                editable=False,
                max_length=255,
                unique=True,
                verbose_name="Message-ID",
            ),
        ),
        migrations.AlterField(
            model_name="outboundmessage",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("sending", "Sending"),
                    ("sent", "Sent"),
                    ("failed", "Failed (gave up)"),
                    ("unknown", "Outcome unknown (held)"),
                    ("cancelled", "Cancelled"),
                ],
                default="queued",
                max_length=10,
            ),
        ),
    ]
