from django.urls import path

from finance.views import books, ledger, payments, reconcile, statements

app_name = "finance"
urlpatterns = [
    path("", ledger.overview, name="overview"),
    path("ledger/", ledger.ledger, name="ledger"),
    path("ledger/<int:pk>/", ledger.accrual_detail, name="accrual"),
    path("ledger/<int:pk>/adjust/", ledger.accrual_adjust, name="accrual_adjust"),
    path("ledger/<int:pk>/write-off/", ledger.accrual_write_off, name="accrual_write_off"),
    path("partners/<int:pk>/account/", ledger.account_page, name="account"),
    path("partners/<int:pk>/account.csv", ledger.account_csv, name="account_csv"),
    path("partners/<int:pk>/account.xlsx", ledger.account_xlsx, name="account_xlsx"),
    path("payments/", payments.payment_list, name="payments"),
    path("payments/new/", payments.payment_create, name="payment_create"),
    path("payments/<int:pk>/", payments.payment_detail, name="payment"),
    path("payments/<int:pk>/allocate/", payments.payment_allocate, name="payment_allocate"),
    path("payments/<int:pk>/allocate-auto/", payments.payment_allocate_auto, name="payment_allocate_auto"),
    path("payments/<int:pk>/bounce/", payments.payment_bounce, name="payment_bounce"),
    path("periods/", books.periods, name="periods"),
    path("periods/lock/", books.period_lock, name="period_lock"),
    path("journal/", books.journal_page, name="journal"),
    path("journal.csv", books.journal_csv, name="journal_csv"),
    path("journal.xlsx", books.journal_xlsx, name="journal_xlsx"),
    path("audit/", books.audit, name="audit"),
    path("statements/", statements.statement_list, name="statements"),
    path("statements/upload/", statements.statement_upload, name="statement_upload"),
    path("statements/<int:pk>/", reconcile.statement_detail, name="statement"),
    path("statements/<int:pk>/pay/", reconcile.statement_pay_view, name="statement_pay"),
    path("statements/items/<int:pk>/", reconcile.item_detail, name="reconcile_item"),
    path("statements/items/<int:pk>/resolve/", reconcile.item_resolve_view, name="reconcile_resolve"),
    path("statements/settings/<int:pk>/", statements.statement_settings_page, name="statement_settings"),
]
