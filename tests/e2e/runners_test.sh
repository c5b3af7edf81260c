#!/usr/bin/env bash
# End-to-end: the wasm and container runners, resource limits, isolation and
# routing by runnerSelector, on a real soltid with real processes, a real
# Node.js WASI runtime and real podman containers.
# Usage: runners_test.sh SOLTID SOLTICTL SOURCE_DIR
set -uo pipefail
soltid=$1
soltictl=$2
src=$3
tmp=$(mktemp -d)
source "$(dirname "$0")/lib.sh"
bash "$src/scripts/busybox-image.sh"
image=localhost/solti-busybox:latest
for wat in echo-args-env spin; do wat2wasm "$src/tests/data/wasm/$wat.wat" -o "$tmp/$wat.wasm"; done
start_soltid "$soltid"
export SOLTI_SERVER=http://127.0.0.1:$port
instance=$(cat "$tmp/data/instance-id")
s() { "$soltictl" "$@"; }
# apply NAME TIMEOUT SPEC_YAML: a Task with that kind-specific spec (indented).
apply() {
  printf 'apiVersion: solti.io/v1\nkind: Task\nmetadata: {name: %s}\nspec:\n  timeout: %s\n  terminationGracePeriod: 1s\n%s\n' \
    "$1" "$2" "$3" | s apply -f - >/dev/null
}
status_of() { s get task "$1" -o json; }
solti_containers() { podman ps -a --filter "label=io.solti.instance=$instance" --format '{{.Names}}'; }

# --- wasm ----------------------------------------------------------------
apply wasm-echo 20s "  wasm:
    module: $tmp/echo-args-env.wasm
    args: [first, second arg]
    env: [{name: GREETING, value: hello wasm}]"
expect "wasm: exit code 3 ends Exhausted" 0 "condition met" -- s wait wasm-echo --for=phase=Exhausted --timeout 30
expect "wasm: with exitCode 3" 0 '"exitCode": 3' -- status_of wasm-echo
expect "wasm: its stdout is the log, with its args" 0 "^first$" -- s logs wasm-echo
expect "wasm: an arg with a space stays one arg" 0 "^second arg$" -- s logs wasm-echo
expect "wasm: and its env" 0 "^GREETING=hello wasm$" -- s logs wasm-echo
expect "wasm: soltid's environment stays out" 1 "" -- bash -c "'$soltictl' logs wasm-echo | grep -E '^(HOME|PWD)='"
apply wasm-spin 1s "  wasm: {module: $tmp/spin.wasm}"
expect "wasm: an endless loop times out" 0 "condition met" -- s wait wasm-spin --for=phase=Timeout --timeout 30
apply wasm-missing 5s "  wasm: {module: $tmp/nope.wasm}"
expect "wasm: a missing module fails to start" 0 "condition met" -- s wait wasm-missing --for=phase=Failed --timeout 30
expect "wasm: naming it" 0 '"reason": "ModuleNotFound"' -- status_of wasm-missing

# --- containers ------------------------------------------------------------
apply box-echo 60s "  container:
    image: $image
    command: [sh, -c]
    args: ['echo hello from \$WHO; cat /proc/1/cmdline | tr \"\\\\0\" \" \"; echo; exit 3']
    env: [{name: WHO, value: a container}]"
expect "container: exit code 3 ends Exhausted" 0 "condition met" -- s wait box-echo --for=phase=Exhausted --timeout 60
expect "container: the exit code propagates" 0 '"exitCode": 3' -- status_of box-echo
expect "container: its output and env reach the log" 0 "^hello from a container$" -- s logs box-echo
apply box-net 60s "  container: {image: $image, command: [sh, -c, 'ls /sys/class/net']}"
expect "container: no network but loopback" 0 "condition met" -- s wait box-net --for=phase=Succeeded --timeout 60
expect "container: only lo" 0 "^lo$" -- s logs box-net
apply box-sleep 2s "  container: {image: $image, command: [sleep, '100']}"
expect "container: sleep 100 is stopped on timeout" 0 "condition met" -- s wait box-sleep --for=phase=Timeout --timeout 60
apply box-missing 60s "  container: {image: localhost/no-such-image:1}"
expect "container: a missing image fails to start" 0 "condition met" -- s wait box-missing --for=phase=Failed --timeout 60
expect "container: saying why" 0 "image not known" -- status_of box-missing
apply box-hog 60s "  container:
    image: $image
    command: [sh, -c, 'head -c 300000000 /dev/zero | tail']
    resources: {memory: 64Mi}"
# podman reports no OOM kill on this host (cgroup v1, cgroupfs): the status
# says what can be known.
expect "container: a memory hog is killed at its limit" 0 '"exitCode": 137' -- \
  bash -c "'$soltictl' wait box-hog --for=phase=Exhausted --timeout 60 >/dev/null; '$soltictl' get task box-hog -o json"
expect "container: the message points at the limit" 0 "memory limit of 64Mi" -- status_of box-hog
apply box-cancel 60s "  container: {image: $image, command: [sleep, '100']}"
s wait box-cancel --for=phase=Running --timeout 60 >/dev/null
for _ in $(seq 100); do [ -n "$(solti_containers)" ] && break; sleep 0.1; done
expect "container: delete cancels a running container" 0 "deleted" -- s delete box-cancel --timeout 60
expect "container: nothing of Solti's left in podman ps -a" 0 "^$" -- solti_containers

# --- limits and isolation (subprocess) -----------------------------------
apply hog 30s "  subprocess:
    command: sh
    args: [-c, 'head -c 300000000 /dev/zero | tail']
    resources: {memory: 64Mi}"
expect "memory: a hog over 64Mi fails" 0 "condition met" -- s wait hog --for=phase=Exhausted --timeout 30
expect "memory: with reason OOMKilled" 0 '"reason": "OOMKilled"' -- status_of hog
apply bomb 3s "  subprocess:
    script: {runtime: bash, body: 'bomb() { bomb | bomb & }; bomb; sleep 10'}
    env: [{name: BOMB, value: '$tmp'}]
    resources: {pids: 64}"
s wait bomb --for=phase=Timeout --timeout 30 >/dev/null
expect "pids: the fork bomb hit its limit" 0 "Resource temporarily unavailable" -- s logs bomb
left=$(grep -l "BOMB=$tmp" /proc/[0-9]*/environ 2>/dev/null | wc -l)
[ "$left" -eq 0 ] && ok "pids: nothing of the bomb is left" || fail "pids: $left bomb processes left"
apply after-bomb 10s "  subprocess: {command: 'true'}"
expect "pids: the machine still runs tasks" 0 "condition met" -- s wait after-bomb --for=phase=Succeeded --timeout 30
apply nobody 10s "  subprocess: {command: id, runAsUser: 65534}"
s wait nobody --for=phase=Succeeded --timeout 30 >/dev/null
expect "runAsUser 65534 runs as nobody" 0 "^uid=65534\(nobody\) gid=65534" -- s logs nobody

# --- routing by runnerSelector ---------------------------------------------
apply zoned 10s "  runnerSelector: {matchLabels: {zone: b}}
  subprocess: {command: echo, args: [zone b]}"
for _ in $(seq 100); do status_of zoned | grep -q NoRunner && break; sleep 0.1; done
expect "routing: no runner has zone=b" 0 '"reason": "NoRunner"' -- status_of zoned
expect "routing: so it waits Pending" 0 '"phase": "Pending"' -- status_of zoned

# --- kill -9 with a container running, then a restart with zone=b ----------
apply box-orphan 60s "  container: {image: $image, command: [sleep, '100']}"
s wait box-orphan --for=phase=Running --timeout 60 >/dev/null
for _ in $(seq 100); do [ -n "$(solti_containers)" ] && break; sleep 0.1; done
kill -9 "$pid"
wait "$pid" 2>/dev/null
[ -n "$(solti_containers)" ] && ok "restart: the killed soltid left its container" || fail "restart: no container to recover"
"$soltid" --data-dir "$tmp/data" --listen "127.0.0.1:$port" --runner-labels zone=b \
  >"$tmp/soltid.out" 2>"$tmp/soltid.err" &
pid=$!
for _ in $(seq 100); do grep -q "ready on" "$tmp/soltid.out" && break; sleep 0.05; done
expect "restart: the orphaned container is removed" 0 "^$" -- solti_containers
expect "restart: its Task is marked AgentRestarted" 0 "AgentRestarted" -- \
  bash -c "'$soltictl' get taskruns -l solti.io/task=box-orphan -o json"
expect "routing: with zone=b the Task runs" 0 "condition met" -- s wait zoned --for=phase=Succeeded --timeout 30
expect "routing: to the end" 0 "^zone b$" -- s logs zoned
s delete box-orphan --timeout 60 >/dev/null
for _ in $(seq 100); do [ -z "$(solti_containers)" ] && break; sleep 0.1; done
expect "afterwards: podman ps -a shows nothing of Solti's" 0 "^$" -- solti_containers
finish
