"""Nurture tracks, enrollments, tasks and helpful replies: what each role may see and do."""

from django.db import migrations

from config.roles import grant_operation

READ_NURTURE = ["nurture.view_track", "nurture.view_step", "nurture.view_enrollment", "nurture.view_helpfulreply"]
ROLES = {
    "Sales Ops": [
        *READ_NURTURE, "nurture.add_enrollment", "nurture.change_enrollment", "nurture.view_nurturetask",
        "nurture.change_nurturetask",
    ],
    "Manager": [*READ_NURTURE, "nurture.view_nurturetask"],
}


class Migration(migrations.Migration):
    dependencies = [("core", "0004_roles_partners"), ("nurture", "0003_tracks_enrollments_replies")]
    operations = [grant_operation(ROLES)]
