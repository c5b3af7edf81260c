#!/usr/bin/env bash
# Crash safety end to end: soltid under a create/update storm of CLIENTS
# kept-alive writers, kill -9'd at a random moment (200-1500 ms into each
# cycle) and restarted on the same data, CYCLES times. After each restart
# every acknowledged write must be there, the revision must not go back, a
# watcher resumed from its last resourceVersion must see every later event
# once, and no Task may be Running without its process (tests/crash/
# crash_storm.cc has the details). The suite runs 5 cycles as crash.storm.
#
# Usage: bash scripts/crash_storm.sh [CYCLES] [CLIENTS]   (defaults 20 and 32)
# Builds first (scripts/build.sh, into build/). Set CRASH_STORM_SEED to replay a run's kill delays.
# Exit status: 0 when every check held, 1 on any violation (printed).
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-20}
clients=${2:-32}
bash scripts/build.sh >/dev/null
build=build
seed=()
if [ -n "${CRASH_STORM_SEED:-}" ]; then seed=(--seed "$CRASH_STORM_SEED"); fi
exec "$build/tests/crash/crash_storm" --soltid "$build/cmd/soltid" \
  --cycles "$cycles" --clients "$clients" "${seed[@]}"
