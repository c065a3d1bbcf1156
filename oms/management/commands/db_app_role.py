"""Make the database role the web and worker processes connect as.

Row-level security (oms/rls.py) binds a role that is neither superuser nor the tables' owner.
Run this as the owner (the role migrations run as) after `migrate`:

    python manage.py db_app_role oms_app --password '...'

then point the web and workers' DATABASE_URL at oms_app, and keep the owner's for `migrate`.
Safe to run again: it creates the role once and grants what is missing.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from psycopg import sql


class Command(BaseCommand):
    help = "Create the application's database role (not superuser, not owner) and grant it access."

    def add_arguments(self, parser):
        parser.add_argument("role")
        parser.add_argument("--password", help="Let the role log in with this password.")

    def handle(self, *args, role: str, password: str | None, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Roles and row-level security are Postgres features.")
        name = sql.Identifier(role)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = %s", [role]
            )
            found = cursor.fetchone()
            if found and found[0]:
                raise CommandError(f"{role} is a superuser or bypasses row-level security.")
            if not found:
                login = (
                    sql.SQL("LOGIN PASSWORD {}").format(sql.Literal(password))
                    if password
                    else sql.SQL("NOLOGIN")
                )
                cursor.execute(
                    sql.SQL("CREATE ROLE {} {} NOSUPERUSER NOBYPASSRLS").format(name, login)
                )
            elif password:
                cursor.execute(
                    sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(name, sql.Literal(password))
                )
            statements = [
                "GRANT USAGE ON SCHEMA public TO {}",
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}",
                "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {}",
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
                " GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}",
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {}",
            ]
            for statement in statements:
                cursor.execute(sql.SQL(statement).format(name))
            # the audit trail is written, never rewritten
            cursor.execute(sql.SQL("REVOKE UPDATE, DELETE ON oms_activity FROM {}").format(name))
        self.stdout.write(
            f"Role {role} can use the application's tables; row-level security binds it."
        )
