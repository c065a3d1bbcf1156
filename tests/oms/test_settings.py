import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key-with-enough-entropy-0123456789abcdef",
    "ALLOWED_HOSTS": "oms.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "smtp.example.com",
}


def _manage(*args, env):
    # the browser tests allow async-unsafe calls in this process; a deployment never does
    unset = {*PRODUCTION, "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _database_url() -> str:
    """The test database: the checks of generated columns ask the server what it supports."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def test_check_deploy_passes_with_the_production_values_in_the_readme(db):
    env = PRODUCTION | {"DATABASE_URL": _database_url()}
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_debug_the_web_server_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    base = {
        k: v for k, v in os.environ.items() if k not in {*PRODUCTION, "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    result = subprocess.run(
        [sys.executable, "-c", "import oms.wsgi"],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "The SECRET_KEY setting must not be empty" in result.stderr


def test_without_debug_check_deploy_fails_without_a_secret_key(db):
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    env["DATABASE_URL"] = _database_url()
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stdout + result.stderr


def test_commands_that_need_no_secret_run_without_one():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = _manage(
        "makemigrations", "--check", "--dry-run", env=env | {"DATABASE_URL": "sqlite:///:memory:"}
    )
    assert result.returncode == 0, result.stdout + result.stderr


_IS_SECURE = (
    "import django; django.setup(); from django.test import RequestFactory;"
    " print(RequestFactory().get('/', headers={'X-Forwarded-Proto': 'https'}).is_secure())"
)


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    unset = {*PRODUCTION, "DJANGO_ALLOW_ASYNC_UNSAFE", "SECURE_PROXY_SSL_HEADER"}
    base = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=base | {"DJANGO_SETTINGS_MODULE": "oms.settings", "DATABASE_URL": "sqlite://"} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_clients_forwarded_proto_header_is_not_believed_by_default():
    result = _python(_IS_SECURE, PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_behind_a_proxy_that_is_configured_its_header_makes_the_request_secure():
    result = _python(
        _IS_SECURE, PRODUCTION | {"SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_a_malformed_proxy_header_setting_stops_the_start():
    result = _python(_IS_SECURE, PRODUCTION | {"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"})
    assert result.returncode != 0
    assert 'SECURE_PROXY_SSL_HEADER is "<HTTP_ header name>,<value>"' in result.stderr
