#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian machine, then run them: the README's test
# command, and what CI runs (.ci/run calls this script).
#   bash tests/run.sh            lint, types and the whole suite
#   bash tests/run.sh -k token   extra arguments go to pytest
# Debian packages are installed only when missing and only as root (apt); the rest is pip.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in docker-registry skopeo umoci chromium zstd curl jq rpm containerd stargz-snapshotter; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: missing Debian packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
    exit 2
  fi
  # The packaged registry service is not used: tests start their own on ephemeral ports.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

python3 -m pip install -q --disable-pip-version-check -e '.[lab,test]' 2>&1 | grep -v 'Running pip as' || true

echo "== lint and types"
python3 -m ruff check ociinspect tests benchmarks
python3 -m mypy

echo "== tests"
python3 -m pytest -q "$@"
