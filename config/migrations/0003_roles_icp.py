"""ICP, reasons, evaluations and imports: what each role may see and do."""

from django.db import migrations

from config.roles import grant

READ_ICP = [
    "leads.view_icpprofile", "leads.view_icpversion", "leads.view_criterion", "leads.view_evaluation",
    "leads.view_disqualificationreason",
]
ROLES = {
    "Sales Ops": [*READ_ICP, "leads.view_importjob", "leads.add_importjob"],
    "Manager": [*READ_ICP, "leads.publish_icpprofile", "leads.view_importjob"],
}


def grant_roles(apps, schema_editor):
    for role, perms in ROLES.items():
        grant(apps, schema_editor, role, perms)


def revoke_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLES.items():
        group = Group.objects.filter(name=role).first()
        if group:
            for perm in perms:
                app_label, codename = perm.split(".")
                group.permissions.remove(*Permission.objects.filter(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [("core", "0002_roles"), ("leads", "0002_icp_engine")]
    operations = [migrations.RunPython(grant_roles, revoke_roles)]
