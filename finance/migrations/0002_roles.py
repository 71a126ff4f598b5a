"""Finance acts on money (payments, allocations, corrections, closing months, statements); managers read every
finance page; Sales Ops get nothing of it."""

from django.db import migrations

from common.roles import grant_operation

READ_FINANCE = [
    "finance.view_payment", "finance.view_allocation", "finance.view_auditentry", "finance.view_partnerstatement",
    "finance.view_statementline", "finance.view_reconciliationitem", "finance.view_resolution",
    "finance.view_statementsettings", "finance.view_partnerreference", "partners.view_ledgerlock",
    "partners.view_feeaccrual",
]
ROLES = {
    "Finance": [
        *READ_FINANCE,
        "finance.add_payment", "finance.bounce_payment", "finance.add_allocation",
        "partners.add_feeaccrual", "partners.change_ledgerlock",
        "finance.reconcile_statement", "finance.add_resolution", "finance.change_statementsettings",
    ],
    "Manager": READ_FINANCE,
}


class Migration(migrations.Migration):
    dependencies = [("finance", "0001_initial"), ("partners", "0004_ledger_corrections"), ("core", "0005_roles_nurture")]
    operations = [grant_operation(ROLES)]
