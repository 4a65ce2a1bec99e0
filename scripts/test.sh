#!/usr/bin/env bash
# Set up a fresh machine and run every test: venv + install, RabbitMQ, ruff, mypy, pytest.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -x tests/rpc`).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PYTHON" -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

bash scripts/rabbitmq.sh start
export AIONOVA_RABBIT_URL=${AIONOVA_RABBIT_URL:-rabbit://guest:guest@127.0.0.1:${AIONOVA_RABBIT_PORT:-5672}/}

.venv/bin/ruff check .
.venv/bin/ruff format --check .
bash scripts/typecheck.sh
# Tests run in a random order (pytest-randomly prints "Using --randomly-seed=N" first;
# replay an order with `bash scripts/test.sh --randomly-seed=N`).
exec .venv/bin/python -m pytest -p randomly "$@"
