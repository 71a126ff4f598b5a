"""The fee ledger holds corrections: adjustments and write-offs beside reversals, each pointing at the row it
corrects (`reverses` becomes `corrects`, many per row, at most one reversal); an accounting date (`posted_on`),
backfilled from the day each row occurred; and the period lock (`LedgerLock`, one row) that postings honour."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

BILLABLE = ("sent", "accepted", "conversion", "conversion_percent")


def backfill_posted_on(apps, schema_editor):
    FeeAccrual = apps.get_model("partners", "FeeAccrual")
    batch = []
    for row in FeeAccrual.objects.only("id", "occurred_at").order_by("id").iterator(chunk_size=2000):
        row.posted_on = timezone.localdate(row.occurred_at)
        batch.append(row)
        if len(batch) == 2000:
            FeeAccrual.objects.bulk_update(batch, ["posted_on"])
            batch = []
    FeeAccrual.objects.bulk_update(batch, ["posted_on"])


def create_lock_row(apps, schema_editor):
    apps.get_model("partners", "LedgerLock").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0003_constraint_messages"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="feeaccrual", name="feeaccrual_one_per_event"),
        migrations.RemoveConstraint(model_name="feeaccrual", name="feeaccrual_sign_matches_kind"),
        migrations.RenameField(model_name="feeaccrual", old_name="reverses", new_name="corrects"),
        migrations.AlterField(
            model_name="feeaccrual",
            name="corrects",
            field=models.ForeignKey(
                blank=True,
                help_text="The billable row this reversal, adjustment or write-off corrects.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="corrections",
                to="partners.feeaccrual",
            ),
        ),
        migrations.AddField(
            model_name="feeaccrual",
            name="posted_on",
            field=models.DateField(null=True),
        ),
        migrations.RunPython(backfill_posted_on, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="feeaccrual",
            name="posted_on",
            field=models.DateField(
                help_text="Accounting date: the day it occurred, or the first open day when that day was already closed."
            ),
        ),
        migrations.AlterField(
            model_name="feeaccrual",
            name="kind",
            field=models.CharField(
                choices=[
                    ("sent", "Referral sent"),
                    ("accepted", "Referral accepted"),
                    ("conversion", "Conversion (flat)"),
                    ("conversion_percent", "Conversion (share of deal)"),
                    ("reversal", "Reversal"),
                    ("adjustment", "Adjustment"),
                    ("write_off", "Write-off"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="feeaccrual",
            name="occurred_at",
            field=models.DateTimeField(help_text="When the billable event or the correction happened."),
        ),
        migrations.AddIndex(
            model_name="feeaccrual",
            index=models.Index(fields=["posted_on", "id"], name="feeaccrual_posted_on"),
        ),
        migrations.AddIndex(
            model_name="feeaccrual",
            index=models.Index(fields=["partner", "currency", "posted_on"], name="feeaccrual_partner_posted"),
        ),
        migrations.AddConstraint(
            model_name="feeaccrual",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kind__in", BILLABLE)),
                fields=("referral", "kind"),
                name="feeaccrual_one_per_event",
            ),
        ),
        migrations.AddConstraint(
            model_name="feeaccrual",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kind", "reversal")), fields=("corrects",), name="feeaccrual_one_reversal_per_row"
            ),
        ),
        migrations.AddConstraint(
            model_name="feeaccrual",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind__in", BILLABLE), ("amount__gt", 0), ("corrects__isnull", True)),
                    models.Q(("kind__in", ["reversal", "write_off"]), ("amount__lt", 0), ("corrects__isnull", False)),
                    models.Q(("kind", "adjustment"), models.Q(("amount", 0), _negated=True), ("corrects__isnull", False)),
                    _connector="OR",
                ),
                name="feeaccrual_sign_matches_kind",
                violation_error_message=(
                    "A billable fee is positive and corrects nothing; a reversal or write-off is negative and an "
                    "adjustment is not zero, and each points at the row it corrects."
                ),
            ),
        ),
        migrations.CreateModel(
            name="LedgerLock",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "locked_through",
                    models.DateField(blank=True, help_text="Last closed day; blank = nothing closed.", null=True),
                ),
                ("changed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "changed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [models.CheckConstraint(condition=models.Q(("id", 1)), name="ledgerlock_single_row")],
            },
        ),
        migrations.RunPython(create_lock_row, migrations.RunPython.noop, elidable=True),
    ]
