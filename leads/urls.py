from django.urls import path

from leads import views

app_name = "leads"
urlpatterns = [
    path("", views.lead_list, name="list"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("icp/", views.icp_list, name="icp_list"),
    path("icp/versions/<int:pk>/", views.icp_version, name="icp_version"),
    path("icp/versions/<int:pk>/publish/", views.icp_publish, name="icp_publish"),
]
