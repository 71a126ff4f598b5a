from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.static import serve

from config import views
from config.api import api
from nurture import public as nurture_public
from partners import public as partner_public

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever a page links (the admin, the API docs and error pages link none).
    path("favicon.ico", serve, {"path": "favicon.ico", "document_root": settings.BASE_DIR / "static"}, name="favicon"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("leads/", include("leads.urls")),
    path("partners/", include("partners.urls")),
    path("nurture/messages/", include("outbox.urls")),  # the outbox's page action, where it was under nurture
    path("nurture/", include("nurture.urls")),
    path("finance/", include("finance.urls")),
    path("triage/", include("triage.urls")),
    # A partner answers a referral here, without an account: the signed token is the credential.
    path("r/<str:token>/", partner_public.partner_link, name="partner_link"),
    # A lead stops our emails here, without an account: the signed token names the lead.
    path("u/<str:token>/", nurture_public.unsubscribe, name="unsubscribe"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "Passthrough administration"
admin.site.site_title = "Passthrough admin"
