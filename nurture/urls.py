from django.urls import path

from nurture import views

app_name = "nurture"
urlpatterns = [
    path("", views.enrollment_list, name="enrollments"),
    path("enrollments/<int:pk>/<str:action>/", views.enrollment_action, name="enrollment_action"),
    path("tracks/", views.track_list, name="tracks"),
    path("tasks/", views.task_list, name="tasks"),
    path("tasks/<int:pk>/done/", views.task_done, name="task_done"),
    path("leads/<int:lead_pk>/enroll/", views.lead_enroll, name="lead_enroll"),
    path("leads/<int:lead_pk>/reply/", views.lead_reply, name="lead_reply"),
]
