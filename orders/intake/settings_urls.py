from django.urls import path

from orders.intake import settings_views as views

app_name = "channel_settings"

urlpatterns = [
    path("", views.ChannelListView.as_view(), name="list"),
    path("<int:pk>/edit/", views.ChannelEditView.as_view(), name="edit"),
    path("<int:pk>/toggle/", views.ChannelToggleView.as_view(), name="toggle"),
    path("<int:pk>/rotate-secret/", views.ChannelRotateSecretView.as_view(), name="rotate"),
    path("<int:pk>/set-secret/", views.ChannelSetSecretView.as_view(), name="set_secret"),
]
