#!/usr/bin/env bash
# End-to-end: the example manifests applied with the stock kubectl to a real
# soltid run for real; kubectl wait and get -w follow them.
# Usage: kubectl_lifecycle_test.sh SOLTID SOURCE_DIR
set -uo pipefail
soltid=$1
src=$2
kubectl=${KUBECTL:-/usr/bin/kubectl}
tmp=$(mktemp -d)
export HOME=$tmp/home KUBECONFIG=$tmp/kubeconfig
mkdir -p "$HOME"
source "$(dirname "$0")/lib.sh"
start_soltid "$soltid"
plain_kubeconfig "$KUBECONFIG"
k() { "$kubectl" "$@"; }

rm -f /tmp/solti-flaky-count  # the flaky example counts its attempts there
bash "$src/scripts/example-modules.sh"
bash "$src/scripts/busybox-image.sh"
# Watch from before the first apply, so that every transition is seen.
k get tasks -w --output-watch-events >"$tmp/watch.out" 2>&1 &
watcher=$!
sleep 0.5
expect "apply the examples" 0 "task.solti.io/hello created" -- k apply -f "$src/manifests/examples/"
expect "wait for phase Succeeded" 0 "task.solti.io/hello condition met" -- \
  k wait --for=jsonpath='{.status.phase}'=Succeeded task/hello task/disk-report task/migrate-step-1 \
  task/migrate-step-2 --timeout=60s
expect "wait for the Succeeded condition" 0 "condition met" -- \
  k wait --for=condition=Succeeded task/hello --timeout=30s
expect "the flaky task succeeds on attempt 3" 0 "condition met" -- \
  k wait --for=jsonpath='{.status.attempt}'=3 task/flaky-fetch --timeout=60s
expect "and ends Succeeded" 0 "condition met" -- \
  k wait --for=jsonpath='{.status.phase}'=Succeeded task/flaky-fetch --timeout=60s
expect "its three attempts are TaskRuns" 0 "flaky-fetch-1-3" -- k get taskruns -l solti.io/task=flaky-fetch
[ "$(k get taskruns -l solti.io/task=flaky-fetch -o name | wc -l)" = 3 ] &&
  ok "exactly three TaskRuns" || fail "TaskRuns: $(k get taskruns -l solti.io/task=flaky-fetch -o name)"
expect "get shows the columns" 0 "hello +hello +Succeeded +1 +0" -- k get tasks
ms() { date -d "$1" +%s%3N; }  # RFC 3339 → epoch ms (the text drops trailing zeros)
done1=$(ms "$(k get task migrate-step-1 -o jsonpath='{.status.completionTime}')")
start2=$(ms "$(k get task migrate-step-2 -o jsonpath='{.status.startTime}')")
[ "$start2" -ge "$done1" ] && ok "the second queued step ran after the first" ||
  fail "migrate-step-2 started at $start2, before step 1 completed at $done1"
expect "the periodic task ran" 0 "^(Running|Succeeded)$" -- k get task heartbeat -o jsonpath='{.status.phase}'
expect "the wasm and container examples run too" 0 "condition met" -- \
  k wait --for=jsonpath='{.status.phase}'=Succeeded task/wasm-hello task/container-hello --timeout=60s
expect "delete waits for the finalizer" 0 'task.solti.io "heartbeat" deleted' -- \
  k delete task heartbeat --timeout=30s
expect "and its TaskRuns go with it" 0 "^0$" -- bash -c "'$kubectl' get taskruns -l solti.io/task=heartbeat -o name | wc -l"

kill "$watcher" 2>/dev/null
expect "get -w saw hello run" 0 "MODIFIED +hello +hello +Running" -- cat "$tmp/watch.out"
expect "get -w saw hello succeed" 0 "MODIFIED +hello +hello +Succeeded" -- cat "$tmp/watch.out"
expect "get -w saw heartbeat deleted" 0 "DELETED +heartbeat" -- cat "$tmp/watch.out"
finish
