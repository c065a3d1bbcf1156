from django.urls import path

from orders.intake import views

app_name = "intake"

urlpatterns = [
    path("", views.DeskView.as_view(), name="desk"),
    path("messages/<int:pk>/", views.MessageView.as_view(), name="message"),
    path("messages/<int:pk>/replay/", views.ReplayView.as_view(), name="replay"),
    path("messages/<int:pk>/discard/", views.DiscardView.as_view(), name="discard"),
    path("<slug:retailer>/<slug:channel>/", views.ReceiveView.as_view(), name="receive"),
]
