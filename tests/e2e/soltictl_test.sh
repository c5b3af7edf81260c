#!/usr/bin/env bash
# End-to-end: soltictl apply and get against a real soltid that runs the
# Tasks. Usage: soltictl_test.sh SOLTID SOLTICTL SOURCE_DIR
set -uo pipefail
soltid=$1
soltictl=$2
src=$3
tmp=$(mktemp -d)
source "$(dirname "$0")/lib.sh"
start_soltid "$soltid"
export SOLTI_SERVER=http://127.0.0.1:$port
s() { "$soltictl" "$@"; }
task() {  # task NAME ARG
  printf 'apiVersion: solti.io/v1\nkind: Task\nmetadata: {name: %s, labels: {suite: ctl}}\nspec:\n  timeout: 10s\n  subprocess: {command: echo, args: ["%s"]}\n' "$1" "$2"
}

task one first >"$tmp/one.yaml"
{ task two second; echo '---'; task three third; } >"$tmp/two.yaml"
expect "apply a directory creates every document" 0 "task.solti.io/three created" -- s apply -f "$tmp"
expect "re-apply reports unchanged" 0 "task.solti.io/one unchanged" -- s apply -f "$tmp/one.yaml"
task one changed >"$tmp/one.yaml"
expect "a changed spec is configured" 0 "task.solti.io/one configured" -- s apply -f "$tmp/one.yaml"
task four x >"$tmp/four.yaml"
expect "server dry run says so" 0 "task.solti.io/four created \(server dry run\)" -- \
  s apply -f "$tmp/four.yaml" --dry-run=server
expect "and saves nothing" 1 'tasks.solti.io "four" not found' -- s get tasks four

mkdir "$tmp/bad"
task five ok >"$tmp/bad/a.yaml"
printf 'apiVersion: solti.io/v1\nkind: Task\nmetadata: {name: six}\nspec:\n  timeout: -1s\n  subprocess: {command: echo}\n' >"$tmp/bad/b.yaml"
expect "an invalid manifest names file, line and field" 1 "b.yaml:5:3: spec.timeout: must be greater than 0" -- s apply -f "$tmp/bad"
expect "and nothing of the batch is applied" 1 "not found" -- s get tasks five

for _ in $(seq 100); do
  [ "$(s get tasks -o name -l suite=ctl | wc -l)" = 3 ] &&
    [ -z "$(s get tasks -l suite=ctl | grep -v Succeeded | grep -v NAME)" ] && break
  sleep 0.1
done
expect "get prints the table" 0 "one +one +Succeeded +1 +0" -- s get tasks
expect "get -l selects by label" 0 "^task.solti.io/one$" -- s get tasks -l suite=ctl -o name
expect "get -o yaml shows the spec" 0 "args:" -- s get task one -o yaml
expect "the changed spec ran" 0 "\"observedGeneration\": 2" -- s get task one -o json
expect "get taskruns by task" 0 "one-2-1 +one +2 +1 +Succeeded" -- s get tkr -l solti.io/task=one
expect "logs prints the attempt's output" 0 "^changed$" -- s logs one
printf 'apiVersion: solti.io/v1\nkind: Task\nmetadata: {name: ticker}\nspec:\n  timeout: 20s\n  subprocess:\n    script: {runtime: sh, body: "for i in 1 2 3; do echo tick $i; sleep 0.3; done"}\n' |
  s apply -f - >/dev/null
for _ in $(seq 100); do s get task ticker | grep -q Running && break; sleep 0.05; done
expect "logs -f follows until the attempt ends" 0 "tick 1.*tick 2.*tick 3" -- bash -c "'$soltictl' logs -f ticker | tr '\n' ' '"
expect "logs --tail" 0 "^tick 3$" -- s logs ticker --tail 1
expect "logs of an attempt that never ran" 1 "attempt 7 of task \"ticker\" does not exist" -- s logs ticker --attempt 7
expect "unknown resource type" 1 "doesn't have a resource type" -- s get pods
expect "bad output format is a usage error" 2 "unsupported output format" -- s get tasks -o toml
expect "an unreachable server is named" 1 "cannot reach http://127.0.0.1:1" -- \
  env SOLTI_SERVER=http://127.0.0.1:1 "$soltictl" get tasks
finish
