from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


class BearerTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>`; tokens come from `manage.py api_token <username>`."""

    keyword = "Bearer"

    def authenticate(self, request):
        """The token's user; the very user the session already loaded when it is the same one
        (a browser that sends its token too), so their retailers and roles are not read twice."""
        found = super().authenticate(request)
        if found is None:
            return None
        signed_in = getattr(request._request, "user", None)
        if signed_in is not None and signed_in.is_authenticated and signed_in.pk == found[0].pk:
            return signed_in, found[1]
        return found

    def authenticate_credentials(self, key):
        # Postgres cannot compare text holding a NUL: no token has one, so it is a wrong token
        if "\x00" in key:
            raise AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
