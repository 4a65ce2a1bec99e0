#!/usr/bin/env bash
# Type-check what installs as aionova.rpc and aionova.drivers, strictly (mypy --strict;
# settings in pyproject.toml). mypy cannot follow the package-dir mapping, so it reads a
# throw-away tree of symlinks with the installed layout: aionova/rpc -> rpc/, and so on.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
mypy=${MYPY:-$repo/.venv/bin/mypy}
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir "$tree/aionova"
for entry in "$repo"/aionova/*; do ln -s "$entry" "$tree/aionova/"; done
ln -s "$repo/rpc" "$tree/aionova/rpc"
ln -s "$repo/drivers" "$tree/aionova/drivers"
cd "$tree"
"$mypy" --config-file "$repo/pyproject.toml" --cache-dir /dev/null -p aionova
