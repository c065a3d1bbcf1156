import zoneinfo

from django.utils import timezone

from oms import datestyle
from oms.models import retailers_of


class RetailerTimeZoneMiddleware:
    """Show times in the time zone of the user's retailer, and dates in its style.

    A user of several retailers in different zones sees the zone of the first of them (by id);
    pages about one record (an order) switch to that record's retailer zone themselves.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        retailers = retailers_of(user) if user is not None else []
        if retailers:
            retailer = min(retailers, key=lambda each: each.pk)
            timezone.activate(zoneinfo.ZoneInfo(getattr(retailer, "time_zone", "") or "UTC"))
            datestyle.activate(datestyle.style_for(retailer))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
            datestyle.deactivate()
