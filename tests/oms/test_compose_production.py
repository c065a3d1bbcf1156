"""docker-compose.yml is the production stack: migrations as the owner, everything else as a role
row-level security binds, a worker per queue, `check --deploy` clean; docker-compose.demo.yml
serves the same stack over plain HTTP with a mail catcher.

Docker is not needed: the files are read as compose reads them (YAML, then ${VAR} interpolation,
then the demo file merged over the main one), and what compose would run is run here against the
local Postgres.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import yaml
from django.conf import settings
from django.db import connection
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "docker-compose.yml"
DEMO = ROOT / "docker-compose.demo.yml"
QUEUES = ["bulk", "email", "intake", "money"]

# what an operator exports before `docker compose up`
SECRETS = {
    "SECRET_KEY": "compose-test-secret-key-long-and-random-enough-0123456789abcdefghij",
    "APP_DB_PASSWORD": "app-password-under-test",
}

_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariable(Exception):
    pass


def interpolate(value, variables: dict[str, str]):
    """Compose's substitution: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}."""
    if isinstance(value, dict):
        return {k: interpolate(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        found = variables.get(name)
        unset = found is None or (found == "" and op is not None and op.startswith(":"))
        if op and op.endswith("?") and unset:
            raise MissingVariable(f"{name}: {arg}")
        if op and op.endswith("-") and unset:
            return arg
        return found or ""

    return _VARIABLE.sub(substitute, value)


def load(*files: Path, variables: dict[str, str] = SECRETS) -> dict[str, dict]:
    """The services of `files`, each merged over the one before as compose merges them."""
    services: dict[str, dict] = {}
    for path in files:
        for name, service in interpolate(yaml.safe_load(path.read_text()), variables)[
            "services"
        ].items():
            merged = services.setdefault(name, {})
            for key, value in service.items():
                if isinstance(value, dict) and isinstance(merged.get(key), dict):
                    merged[key] = merged[key] | value
                else:
                    merged[key] = value
    return services


def app_services(services: dict[str, dict]) -> dict[str, dict]:
    """The services that run the application's image."""
    return {name: s for name, s in services.items() if s.get("image") == "oms:latest"}


def command_of(service: dict) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else command


def relocated(url: str, *, host: str, port: int, name: str) -> str:
    """`url` with the compose network's host and database swapped for this machine's."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}:{port}", path=f"/{name}"))


def run(args: list[str], env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    """Run as a container would: only the service's environment, with this machine's Python."""
    base = {k: os.environ[k] for k in ("HOME", "LANG", "TMPDIR") if k in os.environ}
    path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    return subprocess.run(
        args,
        cwd=ROOT,
        env=base | {"PATH": path} | env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def local_database_url() -> str:
    """The test database in place of compose's: the checks ask the server what it supports."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def test_the_stack_takes_its_secrets_from_the_environment():
    for missing in SECRETS:
        variables = {k: v for k, v in SECRETS.items() if k != missing}
        with pytest.raises(MissingVariable, match=missing):
            load(MAIN, variables=variables)
    # and no password of the application's role is written in the files
    assert SECRETS["APP_DB_PASSWORD"] not in MAIN.read_text() + DEMO.read_text()
    web = load(MAIN)["web"]["environment"]
    assert urlsplit(web["DATABASE_URL"]).password == SECRETS["APP_DB_PASSWORD"]


def test_migrations_run_as_the_owner_and_everything_else_as_the_application_role():
    services = load(MAIN)
    owner = services["postgres"]["environment"]["POSTGRES_USER"]
    migrate = services["migrate"]
    role = migrate["environment"]["APP_DB_ROLE"]
    assert urlsplit(migrate["environment"]["DATABASE_URL"]).username == owner
    assert "manage.py migrate" in command_of(migrate)[-1]
    assert "manage.py db_app_role" in command_of(migrate)[-1]
    assert migrate["restart"] == "no"

    others = {n: s for n, s in app_services(services).items() if n != "migrate"}
    assert {"web", "beat"} <= set(others)
    for name, service in others.items():
        user = urlsplit(service["environment"]["DATABASE_URL"]).username
        assert (user, name) == (role, name)
        assert role != owner
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_one_worker_per_queue_and_beat():
    services = app_services(load(MAIN))
    consumed = {}
    for name, service in services.items():
        command = command_of(service)
        if command[:4] == ["celery", "-A", "oms", "worker"]:
            queues = command[command.index("-Q") + 1].split(",")
            node = command[command.index("-n") + 1]
            assert len(queues) == 1, f"{name} consumes {queues}"
            assert node.startswith(f"{queues[0]}@")
            assert f"-d {node.replace('%h', '$HOSTNAME')}" in service["healthcheck"]["test"][-1]
            consumed[queues[0]] = name
    assert sorted(consumed) == QUEUES == sorted(settings.CELERY_TASK_QUEUES)
    assert settings.CELERY_TASK_DEFAULT_QUEUE in consumed
    assert [n for n, s in services.items() if command_of(s)[3:4] == ["beat"]] == ["beat"]


def test_the_live_stream_runs_under_uvicorn_with_the_web_environment_and_pages_under_gunicorn():
    for services in (load(MAIN), load(MAIN, DEMO)):
        web, stream = services["web"], services["stream"]
        assert command_of(web)[:2] == ["gunicorn", "oms.wsgi:application"]
        command = command_of(stream)
        assert command[:2] == ["uvicorn", "oms.asgi:application"]
        assert command[command.index("--port") + 1] == "8001"
        assert stream["image"] == web["image"] == "oms:latest"
        # the same settings as the pages: the app's role, Redis for the live hub, the proxy's
        # header, the session's secret
        assert stream["environment"] == web["environment"]
        assert stream["ports"] == ["127.0.0.1:8001:8001"]
        assert "http://127.0.0.1:8001/healthz" in stream["healthcheck"]["test"][-1]


def test_check_deploy_with_the_compose_values_gives_no_warning(db):
    # given the web service's environment, its database swapped for the local one
    env = load(MAIN)["web"]["environment"]
    env = env | {"DATABASE_URL": local_database_url()}

    # when
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr


_HTTP_PROBE = """
import json, django
django.setup()
from django.test import Client
answers = {}
for name, headers in [("http", {}), ("https", {"X-Forwarded-Proto": "https"})]:
    response = Client(headers={"Host": "127.0.0.1:8000"} | headers).get("/accounts/login/")
    csrf = response.cookies.get("csrftoken")
    answers[name] = {
        "status": response.status_code,
        "location": response.headers.get("Location", ""),
        "hsts": "Strict-Transport-Security" in response.headers,
        "secure_cookie": bool(csrf and csrf["secure"]),
    }
print(json.dumps(answers))
"""


def _probe(env: dict[str, str]) -> dict:
    env = env | {
        "DATABASE_URL": local_database_url(),
        # the stack's shared metrics folder is a volume; here, a folder of this run's own
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="oms-metrics-"),
        "DJANGO_SETTINGS_MODULE": "oms.settings",
        # the image collects static files when it is built; here they come from the finders
        "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
    }
    result = run([sys.executable, "-c", _HTTP_PROBE], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_serves_https_only_and_trusts_the_proxys_header(db):
    answers = _probe(load(MAIN)["web"]["environment"])

    assert answers["http"]["status"] == 301
    assert answers["http"]["location"] == "https://127.0.0.1:8000/accounts/login/"
    assert answers["https"]["status"] == 200
    assert answers["https"]["hsts"] and answers["https"]["secure_cookie"]


def test_the_demo_is_usable_over_plain_http(db):
    answers = _probe(load(MAIN, DEMO)["web"]["environment"])

    assert answers["http"]["status"] == 200
    assert not answers["http"]["hsts"] and not answers["http"]["secure_cookie"]
    # nothing in front of the demo sets the header: a client's own is not believed
    assert answers["https"] == answers["http"]


def test_the_mail_catcher_is_in_the_demo_only():
    main, demo = load(MAIN), load(MAIN, DEMO)
    assert "mailpit" not in main
    assert all(s["environment"]["EMAIL_HOST"] != "mailpit" for s in app_services(main).values())

    assert demo["mailpit"]["image"].startswith("axllent/mailpit:")
    senders = {n: s for n, s in app_services(demo).items() if n != "migrate"}
    for name, service in senders.items():
        env = service["environment"]
        assert env["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend", name
        assert (env["EMAIL_HOST"], env["EMAIL_PORT"], env["EMAIL_USE_TLS"]) == (
            "mailpit",
            "1025",
            "false",
        ), name
    assert "mailpit" in demo["worker-email"]["depends_on"]


# The row-level security proof: the roles compose names, made as the postgres image and the
# migrate service make them, in a database of their own on the local server.

MARK = "made by tests/oms/test_compose_production.py"


@pytest.fixture
def compose_database():
    """A database owned by compose's POSTGRES_USER (a superuser, as the image makes it), with the
    roles dropped again afterwards. Roles belong to the whole server: runs take turns."""
    services = load(MAIN)
    postgres = services["postgres"]["environment"]
    owner, password = postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"]
    role = services["migrate"]["environment"]["APP_DB_ROLE"]
    db = connection.settings_dict
    name = f"{db['NAME']}_compose"
    admin = psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True
    )
    admin.execute("SELECT pg_advisory_lock(hashtext(%s))", [MARK])

    def drop():
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        for leftover in (role, owner):
            row = admin.execute(
                "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = %s",
                [leftover],
            ).fetchone()
            if row and row[0] == MARK:
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(leftover)))

    try:
        drop()  # what an interrupted run left
        taken = admin.execute(
            "SELECT array_agg(rolname) FROM pg_roles WHERE rolname IN (%s, %s)", [owner, role]
        ).fetchone()[0]
        if taken:
            pytest.skip(f"roles {taken} already exist on this server for something else")
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD {}").format(
                sql.Identifier(owner), sql.Literal(password)
            )
        )
        admin.execute(
            sql.SQL("COMMENT ON ROLE {} IS {}").format(sql.Identifier(owner), sql.Literal(MARK))
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )
        yield {"name": name, "host": db["HOST"], "port": db["PORT"], "admin": admin}
    finally:
        drop()
        admin.execute("SELECT pg_advisory_unlock(hashtext(%s))", [MARK])
        admin.close()


_SEED = """
import json
from tests.factories import OrderFactory, RetailerFactory
mine, theirs = RetailerFactory(ref="compose-a"), RetailerFactory(ref="compose-b")
for n in range(3):
    OrderFactory(retailer=mine, ref=f"A-{n}", lines=1)
for n in range(2):
    OrderFactory(retailer=theirs, ref=f"B-{n}", lines=1)
print(json.dumps([mine.pk, theirs.pk]))
"""

_AS_THE_APP = """
import json
from django.db import connection
from oms import rls
from orders.models import Order
mine, theirs = {ids}
with connection.cursor() as cursor:
    cursor.execute(
        "SELECT r.rolname, r.rolsuper, r.rolbypassrls, t.tableowner FROM pg_roles r, pg_tables t"
        " WHERE r.rolname = current_user AND t.tablename = 'orders_order'"
    )
    user, superuser, bypass, owner = cursor.fetchone()
    cursor.execute("SELECT count(*) FROM orders_order")
    unscoped = cursor.fetchone()[0]
orm_unscoped = Order.objects.count()
seen = {{}}
for retailer in (mine, theirs):
    rls.use_retailers([retailer])
    seen[retailer] = sorted(Order.objects.values_list("ref", flat=True))
print(json.dumps(dict(user=user, superuser=superuser, bypass=bypass, owner=owner,
                      unscoped=unscoped, orm_unscoped=orm_unscoped, seen=seen)))
"""


def test_with_the_compose_roles_row_level_security_applies(db, compose_database):
    services = load(MAIN)
    where = {k: compose_database[k] for k in ("host", "port", "name")}
    migrate_env = services["migrate"]["environment"]
    migrate_env = migrate_env | {"DATABASE_URL": relocated(migrate_env["DATABASE_URL"], **where)}
    web_env = services["web"]["environment"]
    web_env = web_env | {"DATABASE_URL": relocated(web_env["DATABASE_URL"], **where)}

    # given the migrate service's own command, run as compose runs it
    migrated = run(command_of(services["migrate"]), migrate_env, timeout=900)
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    role = migrate_env["APP_DB_ROLE"]
    admin = compose_database["admin"]
    admin.execute(
        sql.SQL("COMMENT ON ROLE {} IS {}").format(sql.Identifier(role), sql.Literal(MARK))
    )
    # and two retailers' orders, written as the owner
    seeded = run([sys.executable, "manage.py", "shell", "-c", _SEED], migrate_env)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    mine, theirs = json.loads(seeded.stdout.strip().splitlines()[-1])

    # when the web service's settings connect
    app = run(
        [sys.executable, "manage.py", "shell", "-c", _AS_THE_APP.format(ids=[mine, theirs])],
        web_env,
    )
    assert app.returncode == 0, app.stderr[-3000:]
    answer = json.loads(app.stdout.strip().splitlines()[-1])

    # then it is the application's role: not superuser, not owner, bound by the policies
    owner = services["postgres"]["environment"]["POSTGRES_USER"]
    assert (answer["user"], answer["owner"]) == (role, owner)
    assert answer["superuser"] is False and answer["bypass"] is False
    assert answer["unscoped"] == answer["orm_unscoped"] == 0
    assert answer["seen"] == {str(mine): ["A-0", "A-1", "A-2"], str(theirs): ["B-0", "B-1"]}
    # while the owner sees every row
    with psycopg.connect(migrate_env["DATABASE_URL"]) as as_owner:
        assert as_owner.execute("SELECT count(*) FROM orders_order").fetchone()[0] == 5
