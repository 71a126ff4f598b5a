"""Nurture tracks, enrollments, tasks and helpful replies: what each role may see and do."""

from django.db import migrations

from config.roles import grant

READ_NURTURE = ["nurture.view_track", "nurture.view_step", "nurture.view_enrollment", "nurture.view_helpfulreply"]
ROLES = {
    "Sales Ops": [
        *READ_NURTURE, "nurture.add_enrollment", "nurture.change_enrollment", "nurture.view_nurturetask",
        "nurture.change_nurturetask",
    ],
    "Manager": [*READ_NURTURE, "nurture.view_nurturetask"],
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
    dependencies = [("core", "0004_roles_partners"), ("nurture", "0003_tracks_enrollments_replies")]
    operations = [migrations.RunPython(grant_roles, revoke_roles)]
