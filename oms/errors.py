"""The page (or API answer) of a request that failed, for reasons the user cannot fix.

Django calls `server_error` for any exception a view or middleware did not handle. When the
database could not be reached or dropped the connection (a restart, a failover), the change the
request was making was rolled back with its transaction: the user is told that, with a 503 and a
Retry-After, rather than given a bare "Server Error". Nothing here touches the database.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

RETRY_AFTER_SECONDS = 5

# psycopg's connection errors reach views as Django's wrappers of these two
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def server_error(request: HttpRequest) -> HttpResponse:
    error = sys.exc_info()[1]
    unavailable = isinstance(error, DATABASE_UNAVAILABLE)
    status = 503 if unavailable else 500
    if unavailable:
        message = (
            "The database is unavailable for a moment. Nothing was changed: "
            f"try again in {RETRY_AFTER_SECONDS} seconds."
        )
    else:
        message = "Something went wrong on our side. It has been logged; nothing was changed."
    if request.path.startswith("/api/"):
        title = "Service Unavailable" if unavailable else "Status 500 Error"
        response = JsonResponse(
            {"error": [{"code": str(status), "message": f"{title}: {message}"}]}, status=status
        )
    else:
        page = loader.get_template("500.html").render({"status": status, "message": message})
        response = HttpResponse(page, status=status)
    if unavailable:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """An address nothing answers: the API's error shape under /api/, the plain page elsewhere."""
    if request.path.startswith("/api/"):
        message = f"Not Found: nothing answers {request.path}."
        return JsonResponse({"error": [{"code": "404", "message": message}]}, status=404)
    return defaults.page_not_found(request, exception)
