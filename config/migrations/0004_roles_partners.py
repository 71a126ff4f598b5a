"""Partners, fee agreements, referrals and the fee ledger: what each role may see and do."""

from django.db import migrations

from config.roles import grant_operation

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


class Migration(migrations.Migration):
    dependencies = [("core", "0003_roles_icp"), ("partners", "0001_initial")]
    operations = [grant_operation(ROLES)]
