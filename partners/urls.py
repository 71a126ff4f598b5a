from django.urls import path

from partners import views

app_name = "partners"
urlpatterns = [
    path("", views.partner_list, name="list"),
    path("<int:pk>/", views.partner_detail, name="detail"),
    path("<int:pk>/agreements/new/", views.agreement_create, name="agreement_create"),
    path("agreements/<int:pk>/edit/", views.agreement_edit, name="agreement_edit"),
    path("referrals/", views.referral_list, name="referral_list"),
    path("referrals/<int:pk>/", views.referral_detail, name="referral"),
    path("referrals/<int:pk>/outcome/", views.referral_outcome, name="referral_outcome"),
    path("referrals/<int:pk>/reverse/", views.referral_reverse, name="referral_reverse"),
    path("referrals/<int:pk>/deal-value/", views.referral_deal_value, name="referral_deal_value"),
    path("leads/<int:lead_pk>/matches/", views.lead_matches, name="lead_matches"),
    path("leads/<int:lead_pk>/refer/", views.referral_send, name="referral_send"),
]
