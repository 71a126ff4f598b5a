from django.urls import path

from outbox import views

app_name = "outbox"
urlpatterns = [
    # Under /nurture/messages/ (config/urls.py), where the action was before the outbox became an app.
    path("<int:pk>/<str:action>/", views.message_action, name="message_action"),
]
