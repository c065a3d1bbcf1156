import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")

application = get_wsgi_application()

# Refuse to serve without a secret: Django raises ImproperlyConfigured for an empty SECRET_KEY.
from django.conf import settings  # noqa: E402

settings.SECRET_KEY  # noqa: B018
