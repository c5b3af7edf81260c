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
# get -w from before the changes below, so that it prints each of them.
s get tasks -w >"$tmp/watch.out" 2>&1 &
watcher=$!
printf 'apiVersion: solti.io/v1\nkind: Task\nmetadata: {name: sleeper}\nspec:\n  timeout: 60s\n  subprocess: {command: sleep, args: ["30"]}\n' |
  s apply -f - >/dev/null
expect "wait for a phase" 0 "task.solti.io/sleeper condition met" -- s wait task/sleeper --for=phase=Running --timeout 20
expect "wait times out with a clear message" 1 "timed out waiting for the condition on task/sleeper" -- \
  s wait sleeper --for=condition=Succeeded --timeout 0.5
expect "suspend records it in the spec" 0 "task.solti.io/sleeper suspended \(generation 2\)" -- s suspend sleeper
expect "a suspended Task is Canceled" 0 "condition met" -- s wait sleeper --for=phase=Canceled --timeout 20
expect "waiting for another terminal phase fails at once" 1 "ended Canceled \(Suspended\), not Succeeded" -- \
  s wait sleeper --for=phase=Succeeded --timeout 20
expect "resume runs it again" 0 "resumed \(generation 3\)" -- s resume sleeper
expect "and it runs" 0 "condition met" -- s wait sleeper --for=phase=Running --timeout 20
expect "rerun starts a new generation" 0 "task.solti.io/one rerun \(generation 3\)" -- s rerun task/one
expect "which runs again" 0 "condition met" -- s wait one --for=condition=Succeeded --timeout 20
expect "delete --wait returns once it is gone" 0 'task.solti.io "sleeper" deleted' -- s delete sleeper --timeout 20
expect "and it is gone" 1 "not found" -- s get task sleeper
expect "delete -l" 0 'task.solti.io "two" deleted' -- s delete -l suite=ctl --wait=false
expect "delete needs names or a selector" 2 "name Tasks or give -l" -- s delete
kill "$watcher" 2>/dev/null
expect "get -w printed the changes" 0 "sleeper +sleeper +Canceled" -- cat "$tmp/watch.out"
expect "get -w printed the rerun" 0 "one +one +Running" -- cat "$tmp/watch.out"

# Nested directories, prune, diff and describe.
ptask() { task "$1" "$2" | sed 's/suite: ctl/set: pruned/'; }
mkdir -p "$tmp/tree/a/b"
ptask p1 x >"$tmp/tree/p1.yaml"
ptask p2 y >"$tmp/tree/a/b/p2.yaml"
expect "apply without -R stays at the top" 0 "^task.solti.io/p1 created$" -- s apply -f "$tmp/tree"
expect "apply -R descends" 0 "task.solti.io/p2 created" -- s apply -R -f "$tmp/tree"
rm "$tmp/tree/a/b/p2.yaml"
expect "prune deletes exactly the Task dropped from the files" 0 "^task.solti.io/p1 unchanged
task.solti.io/p2 pruned$" -- s apply -R -f "$tmp/tree" --prune -l set=pruned
for _ in $(seq 100); do s get task p2 >/dev/null 2>&1 || break; sleep 0.1; done
expect "the pruned Task is gone" 1 "not found" -- s get task p2
expect "and the others stay" 0 "^task.solti.io/p1$" -- s get tasks -l set=pruned -o name
expect "prune needs a selector" 2 "needs -l" -- s apply -f "$tmp/tree" --prune
expect "diff without changes exits 0" 0 "" -- s diff -R -f "$tmp/tree"
ptask p1 z >"$tmp/tree/p1.yaml"
expect "diff shows a change and exits 1" 1 "^\+ +- z" -- s diff -f "$tmp/tree/p1.yaml"
ptask p3 new >"$tmp/tree/p3.yaml"
expect "diff shows a new Task" 1 "^\+ +name: p3" -- s diff -f "$tmp/tree"
expect "diff changed nothing" 1 "not found" -- s get task p3
expect "describe shows spec, status, conditions and runs" 0 "p1-1-1 +p1 +1 +1 +Succeeded" -- \
  bash -c "'$soltictl' wait p1 --for=phase=Succeeded --timeout 20 >/dev/null && '$soltictl' describe p1"
expect "describe shows conditions" 0 "Succeeded +True +ProcessExited" -- s describe task/p1

# -o jsonpath prints what stock kubectl prints for the same template.
kubectl=${KUBECTL:-/usr/bin/kubectl}
plain_kubeconfig "$tmp/kubeconfig"
for template in '{.items[*].metadata.name}' '{.metadata.name}' \
  '{range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}' \
  '{.items[?(@.metadata.name=="p1")].spec.subprocess.args[0]}' \
  "{.items[0].metadata.labels['set']}" '{..command}' '{.items[-1:].metadata.name}'; do
  ours=$(s get tasks -o "jsonpath=$template" 2>&1)
  theirs=$(KUBECONFIG="$tmp/kubeconfig" "$kubectl" get tasks -o "jsonpath=$template" 2>&1)
  if [ "$ours" = "$theirs" ]; then
    ok "jsonpath $template prints what kubectl prints"
  else
    fail "jsonpath $template: '$ours', kubectl: '$theirs'"
  fi
done
expect "jsonpath of one Task, named the kubectl way" 0 "^p1/Succeeded$" -- \
  s get task/p1 -o 'jsonpath={.metadata.name}/{.status.phase}'
expect "a broken template is a usage error naming the place" 2 "jsonpath: unclosed '\[' at character 8" -- \
  s get tasks -o 'jsonpath={.items[0}'

# kubectl's ways to name Tasks: task NAME, task/NAME, tasks.solti.io/NAME.
expect "describe task NAME" 0 "^Name: +p1$" -- s describe task p1
expect "suspend tasks.solti.io/NAME" 0 "task.solti.io/p1 suspended" -- s suspend tasks.solti.io/p1
expect "delete task NAME" 0 'task.solti.io "p1" deleted' -- s delete task p1 --timeout 20
expect "a TaskRun is no Task" 2 'delete works on Tasks; "taskrun/x" is not a Task' -- s delete taskrun/x

# Colour only on a terminal: `script` gives soltictl a pseudo-terminal.
ptask c1 x >"$tmp/c1.yaml"
ptask c2 x >>"$tmp/c1.yaml"
sed -i '7i ---' "$tmp/c1.yaml"
esc=$'\e'
expect "on a terminal the verbs are coloured" 0 "$esc\[32mcreated" -- \
  script -qec "'$soltictl' apply -f '$tmp/c1.yaml'" /dev/null
expect "and a count of the outcomes follows" 0 "^2 manifest\(s\), 2 unchanged" -- \
  script -qec "'$soltictl' apply -f '$tmp/c1.yaml'" /dev/null
expect "in a pipe nothing is coloured" 1 "" -- bash -c "'$soltictl' apply -f '$tmp/c1.yaml' 2>&1 | grep -q '$esc'"
expect "NO_COLOR turns it off on a terminal" 1 "" -- \
  bash -c "NO_COLOR=1 script -qec \"'$soltictl' apply -f '$tmp/c1.yaml'\" /dev/null | grep -q '$esc'"
expect "--color=always colours a pipe" 0 "$esc\[2munchanged" -- s apply -f "$tmp/c1.yaml" --color=always
expect "errors are red on a terminal" 2 "$esc\[31merror:" -- \
  script -qec "'$soltictl' get tasks -o toml" /dev/null

# Completion, called in bash the way the shell calls it.
complete_words() {
  bash -c 'source <("$0" completion bash)
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _soltictl; echo "${COMPREPLY[*]}"' "$soltictl" "$@"
}
expect "completion offers verbs" 0 "^delete describe$" -- complete_words "$soltictl" de
expect "completion offers Task names from the server" 0 "^c1 c2 " -- complete_words "$soltictl" delete ""
expect "completion offers the names of get's resource" 0 "^c1 c2 " -- complete_words "$soltictl" get tasks ""
expect "completion offers output formats" 0 "^json jsonpath=$" -- complete_words "$soltictl" get tasks -o j
expect "completion knows -f is a flag for logs" 0 "^c1 c2 " -- complete_words "$soltictl" logs -f ""
expect "completion offers a verb's flags" 0 "^--dry-run$" -- complete_words "$soltictl" apply --dr
expect "the bash script parses" 0 "" -- bash -n <(s completion bash)
expect "the zsh script is a compdef" 0 "^#compdef soltictl" -- s completion zsh
expect "completion needs a known shell" 2 "" -- s completion fish

expect "version names the client" 0 "^soltictl [0-9]+\.[0-9]+" -- s version
expect "unknown resource type" 1 "doesn't have a resource type" -- s get pods
expect "bad output format is a usage error" 2 "unsupported output format" -- s get tasks -o toml
expect "an unreachable server is named" 1 "cannot reach http://127.0.0.1:1" -- \
  env SOLTI_SERVER=http://127.0.0.1:1 "$soltictl" get tasks
finish
