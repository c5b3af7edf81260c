#!/usr/bin/env bash
# Installs what is missing, then configures and builds Solti into build/
# (Ninja, ccache when present, -Wall -Wextra -Werror). Used by the README
# commands; safe to run again: an up-to-date tree builds in a second.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ ! -f build/build.ninja ]; then
  cmake --preset default >/dev/null
fi
cmake --build --preset default
