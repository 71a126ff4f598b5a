"""Partners, fee agreements, referrals and the fee ledger: what each role may see and do."""

from django.db import migrations

from config.roles import grant

READ_PARTNERS = [
    "partners.view_partner", "partners.view_partnercontact", "partners.view_partnercriterion",
    "partners.view_referral", "partners.view_feeagreement",
]
ROLES = {
    "Sales Ops": [*READ_PARTNERS, "partners.add_referral", "partners.record_outcome"],
    "Finance": [
        *READ_PARTNERS, "partners.add_feeagreement", "partners.change_feeagreement", "partners.view_feeaccrual",
        "partners.reverse_conversion",
    ],
    "Manager": [*READ_PARTNERS, "partners.view_feeaccrual"],
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
    dependencies = [("core", "0003_roles_icp"), ("partners", "0001_initial")]
    operations = [migrations.RunPython(grant_roles, revoke_roles)]
