from django.urls import path

from oms.live import views

app_name = "live"

urlpatterns = [
    path("stream/", views.stream, name="stream"),
    path("poll/", views.poll, name="poll"),
    path("presence/", views.presence, name="presence"),
]
