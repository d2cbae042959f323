#!/usr/bin/env bash
# Run every test liberry has, from a fresh clone: installs what the tests need, then runs
# the front-end unit tests, the linters and the whole pytest suite (server on SQLite and on a
# throwaway PostgreSQL, Api, wandb compatibility, widgets, and JupyterLab in a real Chromium),
# then tests/server and tests/api a second time with the server's fixtures on PostgreSQL, and
# the storage-heavy tests a third time with the server's files in S3 (moto's S3 server).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
npm ci --no-audit --no-fund --loglevel=error
npm run build
.venv/bin/python -m pip install -q -e ".[test]"
# PyTorch, CPU build, for the one test of torch's own SummaryWriter (tests/api/test_tensorboard.py).
# Not in the `test` extra: elsewhere plain `torch` is a multi-GB CUDA download. Here pip takes the
# CPU wheel this kind of machine keeps on disk; where it cannot, that one test is skipped.
.venv/bin/python -m pip install -q "torch==2.13.0" \
  || echo "torch 2.13.0 could not be installed: the SummaryWriter test will be skipped" >&2

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  else
    echo "Chromium is needed for the browser tests: sudo apt-get install chromium" >&2
    exit 1
  fi
fi

# PostgreSQL: the store's tests run against it too, on a throwaway server stopped on exit,
# unless LIBERRY_TEST_POSTGRES_URL already names a scratch database.
if [ -z "${LIBERRY_TEST_POSTGRES_URL:-}" ]; then
  if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
  fi
  if started=$(bash scripts/scratch_postgres.sh start); then
    eval "$started"
    trap 'bash scripts/scratch_postgres.sh stop "$PGSCRATCH"' EXIT
  else
    echo "PostgreSQL could not be started (apt-get install postgresql): its tests are skipped" >&2
  fi
fi

npm run check  # tsc --noEmit, then vitest
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"

# The SQL-heavy part once more with every `server`/`fresh_server` fixture on a database of its
# own on the scratch PostgreSQL (tests/pg_databases.py): the whole server, not only the store,
# runs on both backends. Only for a full run: with arguments, the caller picked the tests.
if [ $# -eq 0 ] && [ -n "${LIBERRY_TEST_POSTGRES_URL:-}" ]; then
  LIBERRY_TEST_SERVER_DB=postgresql .venv/bin/python -m pytest -q tests/server tests/api
fi

# The storage-heavy part once more with every `server`/`fresh_server` fixture keeping its files
# in a bucket of its own on moto's S3 server on 127.0.0.1 (tests/s3_moto.py): run files, artifact
# uploads and downloads, signed-URL access, and the official client's files and artifacts.
if [ $# -eq 0 ]; then
  LIBERRY_TEST_STORAGE=s3 .venv/bin/python -m pytest -q \
    tests/server/test_files.py tests/server/test_artifact_uploads.py tests/server/test_access.py \
    tests/api/test_artifacts.py tests/api/test_files.py \
    tests/compat/test_artifacts.py tests/compat/test_run_lifecycle.py
fi
