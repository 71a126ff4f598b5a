"""OutboundMessage now belongs to the outbox app (outbox.0001 took it over with the same table): nurture forgets
it. Nothing happens in the database."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("nurture", "0004_outbound_message_id_unknown"),
        ("outbox", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="outboundmessage", name="outbound_status_next"),
                migrations.DeleteModel(name="OutboundMessage"),
            ],
            database_operations=[],
        ),
    ]
