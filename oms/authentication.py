from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


class BearerTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>`; tokens come from `manage.py api_token <username>`."""

    keyword = "Bearer"

    def authenticate_credentials(self, key):
        # Postgres cannot compare text holding a NUL: no token has one, so it is a wrong token
        if "\x00" in key:
            raise AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
