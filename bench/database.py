"""Drop and create the database DATABASE_URL names (the bench database, never the app's)."""

from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import urlsplit

import psycopg
from psycopg import sql


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recreate", action="store_true", required=True)
    parser.parse_args()
    url = urlsplit(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"Refusing to recreate {name!r}: the bench database's name contains 'bench'.")
    server = url._replace(path="/postgres").geturl()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"Database {name} created.")


if __name__ == "__main__":
    main()
