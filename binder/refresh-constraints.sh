#!/bin/bash
# Re-resolve binder/constraints.txt: every distribution Binder installs, pinned (==), so a
# rebuild a year from now gets the same stack. Run it when pyproject.toml's dependencies or
# binder/requirements.txt change, then run the Binder test (tests/test_binder.py).
# It resolves in a throw-away virtual environment with the Python of binder/runtime.txt.
set -euo pipefail
cd "$(dirname "$0")"
python="${PYTHON:-python$(sed 's/^python-//' runtime.txt)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
grep -v '^-c ' requirements.txt > "$work/requirements.txt"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$work/requirements.txt"
{
  echo "# Every distribution Binder installs, pinned. Made by binder/refresh-constraints.sh with"
  echo "# $("$work/venv/bin/python" --version); do not edit by hand."
  "$work/venv/bin/python" -m pip freeze --all --exclude-editable | grep -v -E '^(pip|setuptools|wheel)=='
} > constraints.txt
echo "wrote binder/constraints.txt ($(grep -c '==' constraints.txt) pins)"
