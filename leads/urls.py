from django.urls import path

from leads import views

app_name = "leads"
urlpatterns = [
    path("", views.lead_list, name="list"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("<int:pk>/edit/", views.lead_edit, name="edit"),
    path("import/", views.import_upload, name="import_upload"),
    path("import/<int:pk>/", views.import_job, name="import_job"),
    path("import/<int:pk>/start/", views.import_start, name="import_start"),
    path("import/<int:pk>/rerun/", views.import_rerun, name="import_rerun"),
    path("import/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("import/<int:pk>/rejected.csv", views.import_errors_csv, name="import_errors"),
    path("icp/", views.icp_list, name="icp_list"),
    path("icp/versions/<int:pk>/", views.icp_version, name="icp_version"),
    path("icp/versions/<int:pk>/publish/", views.icp_publish, name="icp_publish"),
]
