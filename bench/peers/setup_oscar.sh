#!/usr/bin/env bash
# Creates the virtual environment django-oscar's dashboard runs in for bench/peers/compare.py
# (default /tmp/oscar-venv, or OSCAR_VENV) and its database (default oms_oscar on the bench
# server, or OSCAR_DATABASE_URL), migrated. Filling it is bench/peers/convert.py's job.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${OSCAR_VENV:-/tmp/oscar-venv}"
db_url="${OSCAR_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/oms_oscar}"

python=""
for candidate in python3.12 "$HOME/.pyenv/versions/3.12.1/bin/python3.12" python3; do
	if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
		python="$candidate"; break
	fi
done
if [ -z "$python" ]; then
	python="$(ls -d "$HOME"/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -1 || true)"
fi
[ -n "$python" ] || { echo "No Python 3.12 found (pyenv install 3.12)." >&2; exit 1; }

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --requirement "$here/oscar-requirements.txt"

# the database: created when missing, then migrated
server="${db_url%/*}/postgres"
name="${db_url##*/}"
if ! psql "$server" -Atc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
	psql "$server" -qc "CREATE DATABASE \"$name\""
fi
OSCAR_DATABASE_URL="$db_url" "$venv/bin/python" "$here/oscar/manage.py" migrate --no-input -v0
echo "oscar ready: $venv, $db_url"
