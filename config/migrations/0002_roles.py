"""The three roles of DESIGN.md as groups, with the permissions their pages check."""

from django.db import migrations

from config.roles import grant

ROLES = {
    "Sales Ops": [
        "leads.view_lead", "leads.add_lead", "leads.change_lead", "leads.view_leadevent",
        "leads.triage_lead", "leads.import_leads", "leads.view_leadsource",
    ],
    "Finance": [],
    "Manager": ["leads.view_lead", "leads.view_leadevent", "leads.view_leadsource", "leads.view_reports"],
}


def create_roles(apps, schema_editor):
    for role, perms in ROLES.items():
        grant(apps, schema_editor, role, perms)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("leads", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
