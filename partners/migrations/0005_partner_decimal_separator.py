"""How a partner writes amounts ("." or "," as the decimal mark): their deal values, our fee forms and their
statements are read in it (common.money.parse_amount)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0004_ledger_corrections"),
    ]

    operations = [
        migrations.AddField(
            model_name="partner",
            name="decimal_separator",
            field=models.CharField(
                choices=[(".", "Decimal point: 1,234.56"), (",", "Decimal comma: 1.234,56")],
                default=".",
                help_text="How they write amounts: read so in their deal values, our fee forms and their statements.",
                max_length=1,
            ),
        ),
        migrations.AddConstraint(
            model_name="partner",
            constraint=models.CheckConstraint(
                condition=models.Q(("decimal_separator__in", [".", ","])), name="partner_decimal_separator_known"
            ),
        ),
    ]
