#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs every test with
# ctest (its closing line reports the count).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --preset default
