#!/usr/bin/env bash
# Solti's main job: build, start soltid on its embedded RocksDB store, apply
# the example manifests with soltictl and show them run: phases, attempts,
# TaskRuns and logs. soltid gets a fresh data directory and stops at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
bash scripts/example-modules.sh  # the wasm example's module, from its .wat
bash scripts/busybox-image.sh    # the container example's local image
soltid=build/cmd/soltid
ctl() { build/kubectl-like/soltictl "$@"; }
show() { echo; echo "\$ soltictl $*"; ctl "$@"; }

data=$(mktemp -d /tmp/solti-demo-XXXXXX)
"$soltid" --data-dir "$data" --listen 127.0.0.1:0 >"$data/soltid.out" 2>"$data/soltid.err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 200); do grep -q "ready on" "$data/soltid.out" && break; sleep 0.05; done
grep "ready on" "$data/soltid.out" || { cat "$data/soltid.err"; exit 1; }
export SOLTI_SERVER
SOLTI_SERVER=$(sed -n 's/.*ready on \(http:\/\/[0-9.:]*\).*/\1/p' "$data/soltid.out")

rm -f /tmp/solti-flaky-count  # the flaky example counts its attempts there
show apply -f manifests/examples/

echo
echo "(waiting for the one-shot examples to finish)"
finished() {
  for t in hello disk-report flaky-fetch migrate-step-1 migrate-step-2 wasm-hello container-hello; do
    ctl get task "$t" -o json | grep -q '"phase": "\(Succeeded\|Failed\|Exhausted\|Timeout\)"' || return 1
  done
}
for _ in $(seq 600); do finished && break; sleep 0.1; done
show get tasks -o wide
show get taskruns -l solti.io/task=flaky-fetch
show logs hello
show logs disk-report
show logs flaky-fetch --attempt 1
show logs wasm-hello
show logs container-hello
echo
echo "heartbeat runs again every 30s until it is deleted."

echo
echo "\$ soltictl apply -f tests/data/invalid/backoff-factor.yaml   # refused, nothing applied"
if ctl apply -f tests/data/invalid/backoff-factor.yaml; then
  echo "expected the broken manifest to be refused" >&2
  exit 1
fi
