"""Settings for the back office, read from the environment.

The defaults give the embedded set-up that `make run` serves: a SQLite file under var/, tasks run
in-process, email printed to the console. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY and
ALLOWED_HOSTS; the README has the whole table.
"""

from pathlib import Path

import environ
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# GENERAL
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/stable/ref/settings/#debug
DEBUG = env.bool("DEBUG", default=False)
# A development key is offered only when DEBUG is on. Anywhere else SECRET_KEY must be set: the
# web server refuses to start without it (oms/wsgi.py) and `check --deploy` fails, while commands
# that need no secret (makemigrations, migrate, a Celery worker) still run.
SECRET_KEY = env(
    "SECRET_KEY",
    default="django-insecure-development-only-key-never-use-in-production" if DEBUG else "",
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_TZ = True
LANGUAGE_CODE = "en-gb"
USE_I18N = True
# The languages documents and emails for customers (invoices, credit notes, packing slips,
# customer emails) are written in: a customer's own language, else the retailer's first.
LANGUAGES = [("en", "English"), ("nl", "Nederlands"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]

# DATABASES
# ------------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'oms.sqlite3'}"),
}
if "DATABASE_URL" not in env.ENVIRON:  # the embedded default: its folder must exist
    (BASE_DIR / "var").mkdir(exist_ok=True)
# A streaming standby of the primary, for the reads of list and detail pages (oms/replicas.py;
# docs/production.md, "Read replicas"). Tests read their test database on it ("MIRROR").
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL") | {"TEST": {"MIRROR": "default"}}
for _database in DATABASES.values():
    _database["ATOMIC_REQUESTS"] = False  # services own their transactions
    if _database["ENGINE"] == "django.db.backends.postgresql":
        _database["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
        _database["CONN_HEALTH_CHECKS"] = True
        # Every query here is a short one. Postgres compiles a query with JIT when the planner
        # expects it to be costly; with an estimate far off (an OR over a subquery, say) the
        # compiling took 250 ms of a 290 ms query. A URL's own options= still wins.
        options = _database.setdefault("OPTIONS", {})
        options["options"] = " ".join(filter(None, ["-c jit=off", options.get("options")]))
DATABASE_ROUTERS = ["oms.replicas.ReplicaRouter"] if "replica" in DATABASES else []
# A browser's reads stay on the primary this long after it wrote (read-your-writes).
REPLICA_STICKY_SECONDS = env.int("REPLICA_STICKY_SECONDS", default=5)
# Past this lag the replica is not read; how often (per process) the lag is measured.
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=10.0)
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=5.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "oms",
    "orders",
    "fulfilments",
    "returns",
    "customers",
    "billing",
]

MIDDLEWARE = [
    # first: the request id for the log lines, and the time of everything below (oms/metrics.py)
    "oms.metrics.RequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Postgres row-level security: the request works for the user's retailers only
    "oms.rls.TenantScopeMiddleware",
    # GET pages read from the read replica, when one is configured (with the scope set above)
    "oms.replicas.ReplicaMiddleware",
    "oms.middleware.RetailerTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # an action from a page drawn before a change it depends on is refused (oms/live/guard.py)
    "oms.live.guard.LiveGuardMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # last, as django-axes asks: it turns a lockout raised by authentication into a response
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "oms.urls"
WSGI_APPLICATION = "oms.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oms.context_processors.layout",
                "oms.context_processors.navigation",
            ],
            # `date` and `time` that survive moments at the ends of the calendar
            "builtins": ["oms.templatetags.dates"],
        },
    },
]

# AUTHENTICATION
# ------------------------------------------------------------------------------
AUTH_USER_MODEL = "oms.User"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out username and IP before the password is checked
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# SECURITY
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/stable/ref/csp/
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Probes and the metrics scrape come from inside the stack over plain HTTP, not through the proxy.
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
# A request counts as HTTPS by a header only behind a proxy that sets it and strips a client's own:
# SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https". Unset, no header is trusted.
# https://docs.djangoproject.com/en/stable/ref/settings/#secure-proxy-ssl-header
SECURE_PROXY_SSL_HEADER = tuple(env.list("SECURE_PROXY_SSL_HEADER", default=[])) or None
if SECURE_PROXY_SSL_HEADER is not None and (
    len(SECURE_PROXY_SSL_HEADER) != 2 or not SECURE_PROXY_SSL_HEADER[0].startswith("HTTP_")
):
    raise environ.ImproperlyConfigured(
        'SECURE_PROXY_SSL_HEADER is "<HTTP_ header name>,<value>",'
        ' e.g. "HTTP_X_FORWARDED_PROTO,https"'
    )
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

# STATIC
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env(
            "STATICFILES_BACKEND",
            default="django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))

# EMAIL
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/stable/topics/email/#mailers
EMAIL_BACKEND_CLASS = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# SMTP: STARTTLS on 587 by default; EMAIL_USE_SSL=true for implicit TLS (465) instead; both off
# only for a server on a trusted network. docs/production.md "Mail" has the whole table.
_EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
_EMAIL_OPTIONS = {
    "django.core.mail.backends.filebased.EmailBackend": {
        "file_path": env("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail")),
    },
    "django.core.mail.backends.smtp.EmailBackend": {
        "host": env("EMAIL_HOST", default="localhost"),
        "port": env.int("EMAIL_PORT", default=465 if _EMAIL_USE_SSL else 587),
        "username": env("EMAIL_HOST_USER", default=""),
        "password": env("EMAIL_HOST_PASSWORD", default=""),
        "use_tls": env.bool("EMAIL_USE_TLS", default=not _EMAIL_USE_SSL),
        "use_ssl": _EMAIL_USE_SSL,
        # seconds per connect or reply; the email's row stays locked while it is sent
        "timeout": env.int("EMAIL_TIMEOUT", default=30),
    },
}
MAILERS = {
    "default": {
        "BACKEND": EMAIL_BACKEND_CLASS,
        "OPTIONS": _EMAIL_OPTIONS.get(EMAIL_BACKEND_CLASS, {}),
    }
}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="orders@oms.localhost")

REDIS_URL = env("REDIS_URL", default="")

# LIVE
# ------------------------------------------------------------------------------
# Presence and changes as they happen (oms/live). Through Redis when set, so every web process,
# stream server and worker shares them; without it, within the one process (the embedded
# default). The pages read the stream from LIVE_STREAM_URL (the ASGI server, see
# docs/production.md), and poll the page's own server when it is down.
LIVE_REDIS_URL = env("LIVE_REDIS_URL", default=REDIS_URL)
LIVE_STREAM_URL = env("LIVE_STREAM_URL", default="")
# Whether a WSGI server holds streams: yes for runserver (the embedded default), no behind
# gunicorn, whose every worker a stream would take; there pages read /live/stream/ from the ASGI
# server, and poll when a request for it reaches gunicorn.
LIVE_WSGI_STREAMS = env.bool("LIVE_WSGI_STREAMS", default=True)
LIVE_RECORDS = ("orders.order", "returns.return", "customers.customer", "fulfilments.fulfilment")
LIVE_PRESENCE_TTL = env.float("LIVE_PRESENCE_TTL", default=30.0)  # a tab silent this long left
LIVE_TYPING_SECONDS = 6.0
LIVE_KEEPALIVE_SECONDS = env.float("LIVE_KEEPALIVE_SECONDS", default=5.0)
LIVE_STREAM_MAX_SECONDS = env.float("LIVE_STREAM_MAX_SECONDS", default=600.0)
LIVE_CATCH_UP_SECONDS = 600
LIVE_QUEUE_SIZE = 200
LIVE_REDIS_TIMEOUT = 0.5
LIVE_RETRY_SECONDS = 2.0
LIVE_RETRY_MS = 2000
LIVE_POLL_SECONDS = 2

# CELERY
# ------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# Without REDIS_URL there is no broker: tasks run in-process, after the transaction commits.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60}
CELERY_TIMEZONE = TIME_ZONE
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
# One queue per kind of work, so a long bulk job never holds up a refund: production runs a
# worker per queue (`celery -A oms worker -Q money`); a worker started without -Q takes all four.
# Every task is routed here by name, beat's relays to the queue of the work they relay
# (tests/test_queues.py fails on a task left out). A queue not listed is refused when sent.
CELERY_TASK_QUEUES = {"money": {}, "email": {}, "intake": {}, "bulk": {}}
CELERY_TASK_DEFAULT_QUEUE = "bulk"
CELERY_TASK_DEFAULT_EXCHANGE = "oms"
CELERY_TASK_CREATE_MISSING_QUEUES = False
CELERY_TASK_ROUTES = {
    "orders.tasks.run_payment_operation": {"queue": "money"},
    "orders.tasks.relay_payment_operations": {"queue": "money"},
    "oms.tasks.send_email": {"queue": "email"},
    "oms.tasks.relay_emails": {"queue": "email"},
    "orders.tasks.process_intake_message": {"queue": "intake"},
    "orders.tasks.relay_intake_messages": {"queue": "intake"},
    "orders.tasks.run_bulk_job": {"queue": "bulk"},
    "orders.tasks.relay_bulk_jobs": {"queue": "bulk"},
    "fulfilments.tasks.retry_escalated_fulfilments": {"queue": "bulk"},
    # webhooks are outgoing messages to the retailer's systems, like email: the email worker
    # sends them, away from money and bulk work
    "oms.tasks.deliver_webhooks": {"queue": "email"},
    "oms.tasks.relay_webhooks": {"queue": "email"},
}
# Periodic work run by `celery beat`.
CELERY_BEAT_SCHEDULE = {
    "relay-queued-emails": {"task": "oms.tasks.relay_emails", "schedule": 5 * 60},
    "retry-escalated-fulfilments": {
        "task": "fulfilments.tasks.retry_escalated_fulfilments",
        "schedule": 15 * 60,
    },
    "relay-intake-messages": {"task": "orders.tasks.relay_intake_messages", "schedule": 60},
    "relay-payment-operations": {
        "task": "orders.tasks.relay_payment_operations",
        "schedule": 5 * 60,
    },
    "relay-bulk-jobs": {"task": "orders.tasks.relay_bulk_jobs", "schedule": 60},
    "relay-webhooks": {"task": "oms.tasks.relay_webhooks", "schedule": 60},
}

# WEBHOOKS
# ------------------------------------------------------------------------------
# Signed POSTs to the retailers' own systems (oms/webhooks/). A failed attempt waits the n-th
# step before the next; after the last step's attempt the delivery is left failed.
WEBHOOK_BACKOFF_SECONDS = [
    float(step)
    for step in env.list("WEBHOOK_BACKOFF_SECONDS", default=[10, 60, 300, 1800, 7200, 21600])
]
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=len(WEBHOOK_BACKOFF_SECONDS) + 1)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=5.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=10.0)
# Loopback, private and link-local hosts are refused outside development, so an endpoint URL
# cannot reach into the network the workers run in.
WEBHOOK_ALLOW_PRIVATE_HOSTS = env.bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", default=DEBUG)
WEBHOOK_MAX_ENDPOINTS = 10

# REST FRAMEWORK
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oms.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "oms.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# TABLES
# ------------------------------------------------------------------------------
DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5-responsive.html"

# LOGGING
# ------------------------------------------------------------------------------
# "json": one object a line, with the request id, user and retailers (oms/logs.py), for a log
# collector; "plain": a line to read, the default with DEBUG (make run).
LOG_FORMAT = env("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise environ.ImproperlyConfigured('LOG_FORMAT is "json" or "plain"')
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "oms.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# METRICS
# ------------------------------------------------------------------------------
# /metrics answers a scrape with "Authorization: Bearer $METRICS_TOKEN", or from these networks
# (CIDR; the address the request comes from, so not through a proxy on the same host).
# docs/production.md, "What an operator watches".
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list(
    "METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"] if DEBUG else []
)
# /readyz fails when an email or a payment operation has waited longer than this (seconds;
# 0: report the age only).
OUTBOX_MAX_AGE = env.int("OUTBOX_MAX_AGE", default=30 * 60)

# PAYMENTS
# ------------------------------------------------------------------------------
# Payment.provider -> the gateway class that moves its money (see billing/gateway.py).
PAYMENT_GATEWAYS = {
    "simulated": "billing.gateway.SimulatedGateway",
    "stripe": "billing.stripe_gateway.StripeGateway",
}


def _by_retailer(name: str) -> dict[str, str]:
    """A per-retailer setting from the environment, keyed by retailer ref: JSON
    ('{"acme": "stripe"}') or pairs ("acme=stripe,globex=simulated")."""
    raw = env.str(name, default="").strip()
    if raw.startswith("{"):
        return {str(k): str(v) for k, v in env.json(name).items()}
    return {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in raw.split(",")) if k}


# The provider new payments of a retailer are made with; a retailer not named gets the default.
PAYMENT_PROVIDER_DEFAULT = env.str("PAYMENT_PROVIDER_DEFAULT", default="simulated")
PAYMENT_PROVIDER_BY_RETAILER = _by_retailer("PAYMENT_PROVIDER_BY_RETAILER")
_PROVIDERS = {PAYMENT_PROVIDER_DEFAULT, *PAYMENT_PROVIDER_BY_RETAILER.values()}
if _PROVIDERS - set(PAYMENT_GATEWAYS):
    raise environ.ImproperlyConfigured(
        f"Unknown payment providers: {', '.join(sorted(_PROVIDERS - set(PAYMENT_GATEWAYS)))}"
    )
# Stripe (docs/production.md, "Stripe"): the secret API key and the webhook endpoint's signing
# secret, and per-retailer ones for a retailer with a Stripe account of its own ("acme=sk_...").
# Secrets come from the environment only. STRIPE_API_BASE points the client elsewhere (tests).
STRIPE_API_KEY = env.str("STRIPE_API_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_KEY_BY_RETAILER = _by_retailer("STRIPE_API_KEY_BY_RETAILER")
STRIPE_WEBHOOK_SECRET_BY_RETAILER = _by_retailer("STRIPE_WEBHOOK_SECRET_BY_RETAILER")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
# Seconds to wait for Stripe's answer; a call without one is retried with the same key.
STRIPE_TIMEOUT = env.float("STRIPE_TIMEOUT", default=30.0)
if not DEBUG and "stripe" in _PROVIDERS and not (STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET):
    raise environ.ImproperlyConfigured(
        "Stripe is a payment provider: set STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET."
    )
# Make the simulated gateway fail every call: "decline" or "timeout" (empty: it succeeds).
SIMULATED_GATEWAY_FAILURE = env("SIMULATED_GATEWAY_FAILURE", default="")
# How often a payment operation is tried on transient gateway errors before it is failed.
PAYMENT_OPERATION_ATTEMPTS = env.int("PAYMENT_OPERATION_ATTEMPTS", default=5)
# A row lock taken out of the fixed order (oms/locking.py): "log" it, or "raise" (the tests).
LOCK_ORDER_CHECK = env.str("LOCK_ORDER_CHECK", default="log")
