#!/usr/bin/env bash
# Soak: soltid on a temporary data directory under mixed load for MINUTES
# (bench/soak.cc): creates, updates, merge and JSON patches, deletes, paged
# lists, watches that reconnect, log fetches, and Tasks that run /bin/true,
# echo and a failing script with retries, at most 200 of them at once.
# Prints the requests by kind, the errors, the Tasks run and soltid's RSS
# (mean over minute 2 against the mean over the last minute). Not part of
# the test suite.
#
# Usage: bash scripts/soak.sh [MINUTES]   (default 10)
# Builds first (scripts/build.sh, into build/); SOLTID=PATH runs another
# soltid binary.
# Exit status: 1 when any request failed unexpectedly or the RSS grew by
# 10% or more, else 0.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
bash scripts/build.sh >/dev/null
build=build
exec "$build/bench/soak" --soltid "${SOLTID:-$build/cmd/soltid}" --minutes "$minutes"
