"""What every JSON API of the back office shares: bearer tokens and the error shape.

Errors look like {"error": [{"code": "400", "message": "Bad Request: ..."}]}, the failure
response of the Returns API v4.1.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.decorators import method_decorator
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from oms import rls
from oms.authentication import BearerTokenAuthentication
from oms.tenancy import retailer_ids_for

TITLES = {
    400: "Bad Request",
    401: "Unauthorised",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Status 500 Error",
}


def error_response(code: int, message: str = "") -> Response:
    title = TITLES.get(code, "Error")
    text = f"{title}: {message}" if message else title
    return Response({"error": [{"code": str(code), "message": text}]}, status=code)


def exception_handler(exc, context):
    """DRF's errors in the API's failure shape."""
    if isinstance(exc, Http404):
        return error_response(404, str(exc) or "No such record.")
    if isinstance(exc, PermissionDenied):
        return error_response(403, str(exc))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response = error_response(401, str(exc.detail))
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        if isinstance(detail, list | dict):
            detail = "; ".join(
                str(value) for value in (detail.values() if isinstance(detail, dict) else detail)
            )
        return error_response(exc.status_code, str(detail))
    return None


@method_decorator(login_not_required, name="dispatch")
class ApiView(APIView):
    """An API endpoint: bearer token (or the browser's session), JSON, the error shape."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]

    def initial(self, request, *args, **kwargs):
        """Once the token is authenticated, the database works for its user's retailers."""
        super().initial(request, *args, **kwargs)
        rls.use_retailers(retailer_ids_for(request.user))

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            exc.status_code = status.HTTP_401_UNAUTHORIZED
        return super().handle_exception(exc)
