"""A URL configuration of views built on the base views, to test the bases themselves."""

from django.http import HttpResponse
from django.urls import include, path

from oms.models import Activity
from oms.views import TenantDetailView


class ActivityProbeView(TenantDetailView):
    model = Activity

    def render_to_response(self, context, **kwargs):
        return HttpResponse(self.object.action)


urlpatterns = [
    path("activity/<int:pk>/", ActivityProbeView.as_view(), name="activity_probe"),
    path("", include("oms.urls")),
]
