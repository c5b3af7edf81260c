#!/usr/bin/env bash
# End-to-end: the stock kubectl on this machine against a real soltid.
# Usage: kubectl_test.sh SOLTID SOURCE_DIR
set -uo pipefail
soltid=$1
src=$2
kubectl=${KUBECTL:-/usr/bin/kubectl}
if [ ! -x "$kubectl" ]; then
  echo "kubectl not found at $kubectl"
  exit 1
fi

tmp=$(mktemp -d)
export HOME=$tmp/home KUBECONFIG=$tmp/kubeconfig
mkdir -p "$HOME"
source "$(dirname "$0")/lib.sh"
# The API alone: these checks play the controller themselves (status writes,
# finalizers); kubectl_lifecycle_test.sh runs Tasks for real.
start_soltid "$soltid" --no-reconciler
plain_kubeconfig "$KUBECONFIG"

k() { "$kubectl" "$@"; }
task() {  # task NAME [LABELS] [TIMEOUT]
  cat <<T
apiVersion: solti.io/v1
kind: Task
metadata:
  name: $1
  labels: {${2:-team: a}}
spec:
  timeout: ${3:-10s}
  subprocess:
    command: /bin/true
T
}

expect "api-resources lists tasks and taskruns" 0 "tasks +tk +solti.io/v1 +true +Task" -- k api-resources
expect "api-resources lists taskruns" 0 "taskruns +tkr" -- k api-resources
expect "explain task.spec.backoff" 0 "jitter" -- k explain task.spec.backoff
expect "explain shows the field description" 0 "Growth factor" -- k explain task.spec.backoff.factor

mkdir -p "$tmp/m"
task one "team: a" >"$tmp/m/one.yaml"
expect "apply creates" 0 "task.solti.io/one created" -- k apply -f "$tmp/m/one.yaml"
rv1=$(k get task one -o jsonpath='{.metadata.resourceVersion}')
expect "re-apply leaves it unchanged" 0 "task.solti.io/one unchanged" -- k apply -f "$tmp/m/one.yaml"
rv2=$(k get task one -o jsonpath='{.metadata.resourceVersion}')
[ "$rv1" = "$rv2" ] && ok "resourceVersion unchanged by re-apply" || fail "resourceVersion changed: $rv1 -> $rv2"
expect "diff with no change exits 0" 0 "" -- k diff -f "$tmp/m/one.yaml"
task one "team: a" 45s >"$tmp/m/one.yaml"
expect "diff with a change exits 1" 1 "timeout: 45s" -- k diff -f "$tmp/m/one.yaml"
expect "diff persisted nothing" 0 "^10s$" -- k get task one -o jsonpath='{.spec.timeout}'
expect "apply of a changed file configures" 0 "task.solti.io/one configured" -- k apply -f "$tmp/m/one.yaml"
expect "the change bumped the generation" 0 "^2$" -- k get task one -o jsonpath='{.metadata.generation}'

for n in two three four five; do task "$n" "team: b" | k apply -f - >/dev/null; done
task six "team: c" | k apply -f - >/dev/null
expect "get -o wide" 0 "NAME +SLOT +PHASE +ATTEMPT +EXIT +AGE +KIND +RESTART" -- k get tasks -o wide
expect "get -o yaml" 0 "kind: Task" -- k get task one -o yaml
expect "get -o json" 0 '"kind": "Task"' -- k get task one -o json
expect "get -o name" 0 "^task.solti.io/one$" -- k get task one -o name
expect "get -l with a set selector" 0 "^task.solti.io/one$" -- bash -c "'$kubectl' get tasks -l 'team in (a,c)' -o name | head -1"
count=$(k get tasks -l 'team in (a,c)' -o name | wc -l)
[ "$count" -eq 2 ] && ok "set selector selects exactly 2" || fail "set selector selected $count"
count=$(k get tasks --chunk-size=2 -o name | wc -l)
[ "$count" -eq 6 ] && ok "get --chunk-size=2 pages through 6 tasks" || fail "chunked get saw $count"

expect "patch status through /status" 0 "patched" -- k patch task two --subresource=status --type=merge -p '{"status":{"phase":"Pending"}}'
expect "field selector on status.phase" 0 "^task.solti.io/two$" -- k get tasks --field-selector status.phase=Pending -o name
expect "label" 0 "labeled" -- k label task one tier=gold
expect "annotate" 0 "annotated" -- k annotate task one note=hello
expect "label and annotation stored" 0 "^gold hello$" -- k get task one -o jsonpath='{.metadata.labels.tier} {.metadata.annotations.note}'
expect "patch --type=merge" 0 "patched" -- k patch task one --type=merge -p '{"spec":{"suspend":true}}'
expect "patch --type=json" 0 "patched" -- k patch task one --type=json -p '[{"op":"replace","path":"/spec/timeout","value":"50s"}]'
expect "patches applied" 0 "^true 50s$" -- k get task one -o jsonpath='{.spec.suspend} {.spec.timeout}'
expect "strategic merge patch is refused" 1 "not supported" -- k patch task one -p '{"spec":{"suspend":false}}'
expect "invalid objects name the field" 1 'spec.timeout: must be greater than 0' -- bash -c "printf '%s\n' 'apiVersion: solti.io/v1' 'kind: Task' 'metadata: {name: bad}' 'spec: {timeout: 0s, subprocess: {command: /bin/true}}' | '$kubectl' apply -f -"

# Server-side apply: create, no-op re-apply, conflict with another manager, takeover.
task ssa "team: s" >"$tmp/ssa.yaml"
expect "apply --server-side creates" 0 "task.solti.io/ssa serverside-applied" -- k apply --server-side -f "$tmp/ssa.yaml"
rv1=$(k get task ssa -o jsonpath='{.metadata.resourceVersion}')
expect "apply --server-side again" 0 "serverside-applied" -- k apply --server-side -f "$tmp/ssa.yaml"
rv2=$(k get task ssa -o jsonpath='{.metadata.resourceVersion}')
[ "$rv1" = "$rv2" ] && ok "identical server-side apply writes nothing" || fail "server-side re-apply wrote: $rv1 -> $rv2"
task ssa "team: s" 30s >"$tmp/ssa2.yaml"
expect "another manager gets a field conflict" 1 'conflict with "kubectl" using solti.io/v1: .spec.timeout' -- k apply --server-side --field-manager=gitops -f "$tmp/ssa2.yaml"
expect "--force-conflicts takes the field over" 0 "serverside-applied" -- k apply --server-side --field-manager=gitops --force-conflicts -f "$tmp/ssa2.yaml"
expect "the forced value is live" 0 "^30s$" -- k get task ssa -o jsonpath='{.spec.timeout}'
task migrate "team: m" >"$tmp/migrate.yaml"
k apply -f "$tmp/migrate.yaml" >/dev/null
expect "a client-side applied object moves to server-side apply" 0 "serverside-applied" -- k apply --server-side -f "$tmp/migrate.yaml"
expect "fields another writer changed conflict" 1 'conflict with "kubectl-patch"' -- k apply --server-side -f "$tmp/m/one.yaml"

# Watch: ADDED, MODIFIED and DELETED events.
timeout 8 "$kubectl" get tasks -w --output-watch-events >"$tmp/watch.out" 2>&1 &
wpid=$!
sleep 1
task seven "team: d" | k apply -f - >/dev/null
k label task seven x=y >/dev/null
k delete task seven --wait=false >/dev/null
sleep 1.5
kill $wpid 2>/dev/null
wait $wpid 2>/dev/null
grep -qE "^ADDED +seven" "$tmp/watch.out" && ok "get -w shows ADDED" || fail "get -w: no ADDED: $(cat "$tmp/watch.out")"
grep -qE "^MODIFIED +seven" "$tmp/watch.out" && ok "get -w shows MODIFIED" || fail "get -w: no MODIFIED"
grep -qE "^DELETED +seven" "$tmp/watch.out" && ok "get -w shows DELETED" || fail "get -w: no DELETED"

# wait returns once the phase is written through /status.
( sleep 1; "$kubectl" patch task three --subresource=status --type=merge -p '{"status":{"phase":"Succeeded"}}' >/dev/null ) &
helper=$!
expect "wait --for=jsonpath phase=Succeeded" 0 "condition met" -- k wait --for=jsonpath='{.status.phase}'=Succeeded task/three --timeout=20s
wait $helper
expect "wait times out with a clear message" 1 "timed out waiting" -- k wait --for=jsonpath='{.status.phase}'=Succeeded task/four --timeout=1s

# delete --wait waits for the finalizer to be released.
k patch task five --type=merge -p '{"metadata":{"finalizers":["solti.io/runner"]}}' >/dev/null
( sleep 1.5; "$kubectl" patch task five --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null ) &
helper=$!
start=$(date +%s%N)
expect "delete --wait" 0 'task.solti.io "five" deleted' -- k delete task five --wait=true --timeout=20s
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
wait $helper
[ "$elapsed" -ge 1000 ] && ok "delete waited for the finalizer (${elapsed} ms)" || fail "delete returned after ${elapsed} ms"
expect "deleted task is gone" 1 'NotFound' -- k get task five
expect "taskruns are read-only" 1 "MethodNotAllowed|not allow" -- k delete taskrun nothing

finish
