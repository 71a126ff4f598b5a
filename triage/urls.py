from django.urls import path

from triage import views

app_name = "triage"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("counts/", views.counts, name="counts"),
    path("bulk/", views.bulk, name="bulk"),
    path("<int:pk>/", views.panel, name="panel"),
    path("<int:pk>/refer/", views.refer, name="refer"),
    path("<int:pk>/enroll/", views.enroll, name="enroll"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("<int:pk>/close/", views.close, name="close"),
    path("<int:pk>/override/", views.override, name="override"),
    path("<int:pk>/assign/", views.assign, name="assign"),
]
