#!/usr/bin/env bash
# Set up a fresh machine and run every test: venv + install, RabbitMQ, Keystone, PostgreSQL,
# ruff, mypy, pytest (then the control-plane tests again on PostgreSQL).
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -x tests/rpc`).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PYTHON" -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# The distribution was renamed aionova-openstack: an install of this tree under the old
# name (and its aionova.egg-info here) would register every driver entry point twice.
if .venv/bin/python -m pip show -q aionova >/dev/null 2>&1; then
    .venv/bin/python -m pip uninstall -q -y aionova
fi
rm -rf aionova.egg-info
# The test extra brings every extra ([rabbit], [nova]) and the tools.
.venv/bin/python -m pip install -q -e '.[test]'

bash scripts/rabbitmq.sh start
bash scripts/keystone.sh install  # a venv reused when present; the tests start Keystone
export AIONOVA_RABBIT_URL=${AIONOVA_RABBIT_URL:-rabbit://guest:guest@127.0.0.1:${AIONOVA_RABBIT_PORT:-5672}/}

.venv/bin/ruff check .
.venv/bin/ruff format --check .
bash scripts/typecheck.sh
bash scripts/postgres.sh start  # the server database; tests make a schema each
# Tests run in a random order (pytest-randomly prints "Using --randomly-seed=N" first;
# replay an order with `bash scripts/test.sh --randomly-seed=N`).
if [ "$#" -gt 0 ]; then exec .venv/bin/python -m pytest -p randomly "$@"; fi
.venv/bin/python -m pytest -p randomly
# The control-plane suite a second time, on PostgreSQL (AIONOVA_TEST_DATABASE switches
# every test database; SQLite-only tests keep their files).
AIONOVA_TEST_DATABASE=postgresql exec .venv/bin/python -m pytest -p randomly \
    tests/aionova tests/api tests/clients/test_nova_cli.py tests/clients/test_openstack_cli.py \
    tests/clients/test_crash_recovery.py tests/clients/test_multiprocess.py \
    tests/clients/test_deploy_commands.py
