"""Evaluations become compact and leads stop pointing at their latest one.

- Lead.evaluation (a pointer rewritten on every lead at each ICP publish) gives way to Lead.icp_band, the
  band of the latest evaluation, so re-qualifying writes only the leads whose verdict changes.
- Evaluation.outcomes: {criterion id: outcome} becomes one letter per criterion in the version's order.
- Evaluation.actual: {field: value} becomes the list of values in `engine.fields_tested()` order.
- Evaluation's references are no longer database constraints (Django still cascades and protects).
"""

import django.db.models.deletion
from django.db import migrations, models

CODES = {"pass": "p", "fail": "f", "unknown": "u"}


def _fields_tested(criteria) -> list[str]:
    fields: list[str] = []
    for c in criteria:
        for field in ("latitude", "longitude") if c.field == "location" else (c.field,):
            if field not in fields:
                fields.append(field)
    return fields


def forwards(apps, schema_editor):
    Lead = apps.get_model("leads", "Lead")
    Evaluation = apps.get_model("leads", "Evaluation")
    ICPVersion = apps.get_model("leads", "ICPVersion")
    for version in ICPVersion.objects.all():
        criteria = list(version.criteria.order_by("position", "id"))
        fields = _fields_tested(criteria)
        batch = []
        for evaluation in Evaluation.objects.filter(version=version).only("old_outcomes", "old_actual").iterator():
            old_outcomes, old_actual = evaluation.old_outcomes or {}, evaluation.old_actual or {}
            evaluation.outcomes = "".join(CODES.get(old_outcomes.get(str(c.pk)), "u") for c in criteria)
            evaluation.actual = [old_actual.get(field) for field in fields]
            batch.append(evaluation)
            if len(batch) >= 2000:
                Evaluation.objects.bulk_update(batch, ["outcomes", "actual"])
                batch = []
        Evaluation.objects.bulk_update(batch, ["outcomes", "actual"])
    latest = Evaluation.objects.filter(pk=models.OuterRef("old_evaluation_id")).values("band")[:1]
    Lead.objects.filter(old_evaluation__isnull=False).update(icp_band=models.Subquery(latest))


def backwards(apps, schema_editor):
    Lead = apps.get_model("leads", "Lead")
    Evaluation = apps.get_model("leads", "Evaluation")
    ICPVersion = apps.get_model("leads", "ICPVersion")
    names = {code: outcome for outcome, code in CODES.items()}
    for version in ICPVersion.objects.all():
        criteria = list(version.criteria.order_by("position", "id"))
        fields = _fields_tested(criteria)
        for evaluation in Evaluation.objects.filter(version=version).iterator():
            evaluation.old_outcomes = {
                str(c.pk): names[code] for c, code in zip(criteria, evaluation.outcomes, strict=False)
            }
            evaluation.old_actual = dict(zip(fields, evaluation.actual or [], strict=False))
            evaluation.save(update_fields=["old_outcomes", "old_actual"])
    latest = Evaluation.objects.filter(lead=models.OuterRef("pk")).order_by("-evaluated_at", "-id").values("pk")[:1]
    Lead.objects.update(old_evaluation=models.Subquery(latest))


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0005_queue_source_index"),
    ]

    operations = [
        migrations.RenameField("lead", "evaluation", "old_evaluation"),
        migrations.RenameField("evaluation", "outcomes", "old_outcomes"),
        migrations.RenameField("evaluation", "actual", "old_actual"),
        migrations.AddField(
            model_name="lead",
            name="icp_band",
            field=models.CharField(
                blank=True,
                choices=[("qualified", "Qualified"), ("needs_review", "Needs review"), ("disqualified", "Disqualified")],
                db_default="",
                default="",
                editable=False,
                max_length=12,
                verbose_name="ICP band",
            ),
        ),
        migrations.AddField(
            model_name="evaluation",
            name="outcomes",
            field=models.TextField(
                default="", help_text="One letter per criterion, in order: p pass, f fail, u unknown."
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="evaluation",
            name="actual",
            field=models.JSONField(
                default=list, help_text="The values of the fields tested, in the version's order."
            ),
        ),
        migrations.RunPython(forwards, backwards, elidable=True),
        migrations.RemoveField("lead", "old_evaluation"),
        migrations.RemoveField("evaluation", "old_outcomes"),
        migrations.RemoveField("evaluation", "old_actual"),
        migrations.RemoveIndex(model_name="evaluation", name="evaluation_version_at"),
        migrations.AlterField(
            model_name="evaluation",
            name="lead",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="evaluations",
                to="leads.lead",
            ),
        ),
        migrations.AlterField(
            model_name="evaluation",
            name="version",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="evaluations",
                to="leads.icpversion",
            ),
        ),
        migrations.AlterField(
            model_name="evaluation",
            name="primary_reason",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                to="leads.disqualificationreason",
            ),
        ),
    ]
