#!/usr/bin/env bash
# End-to-end: TLS, bearer tokens and the namespace policy, with the stock
# kubectl using a CA bundle (kubectl sends tokens only over TLS), and curl
# on every endpoint: none but the health probes and /version answers
# without a valid token, and no user sees outside the namespaces granted.
# soltictl reads the same kubeconfigs. Usage: kubectl_auth_test.sh SOLTID SOLTICTL
set -uo pipefail
soltid=$1
soltictl=$2
kubectl=${KUBECTL:-/usr/bin/kubectl}
tmp=$(mktemp -d)
export HOME=$tmp/home
mkdir -p "$HOME"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=solti-test" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
cat >"$tmp/tokens.csv" <<'T'
# token,user,uid,groups
alice-token,alice,1001
admin-token,root,0,"admins,ops"
T
cat >"$tmp/policy.yaml" <<'P'
rules:
  - users: [alice]
    namespaces: [team-a]
    verbs: ["*"]
  - groups: [admins]
    namespaces: ["*"]
    verbs: ["*"]
  - groups: [admins]
    nonResourceURLs: [/metrics]
P
source "$(dirname "$0")/lib.sh"
start_soltid "$soltid" --tls-cert-file "$tmp/cert.pem" --tls-private-key-file "$tmp/key.pem" \
  --token-auth-file "$tmp/tokens.csv" --authorization-policy-file "$tmp/policy.yaml"
url=https://127.0.0.1:$port

kubeconfig() {  # kubeconfig FILE TOKEN
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters: [{name: solti, cluster: {server: "$url", certificate-authority: "$tmp/cert.pem"}}]
users: [{name: u, user: {token: "$2"}}]
contexts: [{name: solti, context: {cluster: solti, user: u, namespace: team-a}}]
current-context: solti
KC
}
kubeconfig "$tmp/alice" alice-token
kubeconfig "$tmp/admin" admin-token
kubeconfig "$tmp/stranger" wrong-token

manifest='{"apiVersion":"solti.io/v1","kind":"Task","metadata":{"name":"t"},"spec":{"timeout":"5s","subprocess":{"command":"/bin/true"}}}'

expect "alice applies in her namespace over TLS" 0 "task.solti.io/t created" -- \
  bash -c "echo '$manifest' | KUBECONFIG=$tmp/alice '$kubectl' apply -f -"
expect "alice lists her namespace" 0 "^t " -- env KUBECONFIG="$tmp/alice" "$kubectl" get tasks --no-headers
expect "alice is forbidden in another namespace" 1 'cannot list resource "tasks" in API group "solti.io" in the namespace "team-b"' -- \
  env KUBECONFIG="$tmp/alice" "$kubectl" get tasks -n team-b
expect "alice cannot list across namespaces" 1 "at the cluster scope" -- env KUBECONFIG="$tmp/alice" "$kubectl" get tasks -A
expect "alice cannot watch across namespaces" 1 "Forbidden|forbidden" -- \
  env KUBECONFIG="$tmp/alice" timeout 10 "$kubectl" get tasks -A -w
expect "alice cannot create elsewhere" 1 "Forbidden|forbidden" -- \
  bash -c "echo '$manifest' | KUBECONFIG=$tmp/alice '$kubectl' apply -n team-b -f -"
expect "the admin group lists everything" 0 "team-a +t " -- env KUBECONFIG="$tmp/admin" "$kubectl" get tasks -A --no-headers
expect "a wrong token is Unauthorized" 1 "Unauthorized|must be logged in" -- env KUBECONFIG="$tmp/stranger" "$kubectl" get tasks
expect "the admins group may read metrics" 0 "solti_store_revision" -- curl -s --cacert "$tmp/cert.pem" -H "Authorization: Bearer admin-token" "$url/metrics"
expect "plain HTTP is refused on the TLS port" 0 "^000$" -- bash -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/version; true"
expect "an untrusted client sees a certificate error" 60 "" -- curl -s "$url/version"

# Every endpoint, table-driven: one row per METHOD PATH BODY (a body kind
# for send(), "-" for none), and ADMIN, the code an admin gets there. The
# admin pass shows that each row reaches a real handler (a mistyped path
# would 401 as well), so it runs second and in row order: create, change,
# then delete the probe Task.
ns=/apis/solti.io/v1/namespaces/team-a
all=/apis/solti.io/v1
task_json() {  # task_json NAME: a suspended Task (it runs nothing); its namespace is the path's
  printf '{"apiVersion":"solti.io/v1","kind":"Task","metadata":{"name":"%s"},"spec":{"timeout":"5s","suspend":true,"subprocess":{"command":"/bin/true"}}}' "$1"
}
probe=$(task_json probe)
endpoints="
GET    /api                                      -     404
GET    /apis                                     -     200
GET    /apis/solti.io                            -     200
GET    /apis/solti.io/v1                         -     200
GET    /openapi/v2                               -     200
GET    /openapi/v3                               -     200
GET    /openapi/v3/apis/solti.io/v1              -     200
GET    /metrics                                  -     200
GET    $ns/tasks                                 -     200
GET    $ns/tasks?watch=true&timeoutSeconds=1     -     200
GET    $all/tasks                                -     200
GET    $all/tasks?watch=true&timeoutSeconds=1    -     200
POST   $ns/tasks                                 task  201
GET    $ns/tasks/probe                           -     200
PUT    $ns/tasks/probe                           task  200
PATCH  $ns/tasks/probe                           merge 200
PATCH  $ns/tasks/probe                           json  200
PATCH  $ns/tasks/probe?fieldManager=e2e          apply 200
GET    $ns/tasks/probe/status                    -     200
PUT    $ns/tasks/probe/status                    task  200
PATCH  $ns/tasks/probe/status                    merge 200
GET    $ns/tasks/t/log                           -     200
GET    $ns/tasks/t/log?follow=true               -     200
DELETE $ns/tasks/probe                           -     200
DELETE $ns/tasks?labelSelector=probe%3Dnone      -     200
POST   $all/tasks                                task  405
DELETE $all/tasks                                -     405
GET    $ns/taskruns                              -     200
GET    $ns/taskruns?watch=true&timeoutSeconds=1  -     200
GET    $all/taskruns                             -     200
GET    $all/taskruns?watch=true&timeoutSeconds=1 -     200
GET    $ns/taskruns/t-1-1                        -     200
POST   $ns/taskruns                              task  405
PATCH  $ns/taskruns/t-1-1                        merge 405
DELETE $ns/taskruns/t-1-1                        -     405
DELETE $ns/taskruns                              -     405
"
# send METHOD PATH BODY [CURL ARGS...]: prints the HTTP status code.
send() {
  local method=$1 path=$2 body=$3
  shift 3
  local data=()
  case $body in
    task) data=(-H 'Content-Type: application/json' --data-binary "$probe") ;;
    merge) data=(-H 'Content-Type: application/merge-patch+json' --data-binary '{"metadata":{"labels":{"probe":"merge"}}}') ;;
    json) data=(-H 'Content-Type: application/json-patch+json' --data-binary '[{"op":"add","path":"/metadata/labels/json","value":"patch"}]') ;;
    apply) data=(-H 'Content-Type: application/apply-patch+yaml' --data-binary "$probe") ;;
  esac
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$tmp/cert.pem" -X "$method" \
    "${data[@]}" "$@" "$url$path"
}
# expect_codes NAME WANT ROWS [CURL ARGS...]: each row of ROWS answers WANT
# (or its ADMIN column when WANT is "admin"). One failure per wrong row,
# one ok for the whole table.
expect_codes() {
  local name=$1 want=$2 rows=$3 method path body admin code expected wrong=0 count=0
  shift 3
  while read -r method path body admin; do
    [ -n "$method" ] || continue
    count=$((count + 1))
    code=$(send "$method" "$path" "$body" "$@")
    [ "$want" = admin ] && expected=$admin || expected=$want
    if [ "$code" != "$expected" ]; then
      fail "$name: $method $path: $code, want $expected"
      wrong=$((wrong + 1))
    fi
  done <<<"$rows"
  [ "$wrong" -eq 0 ] && ok "$name: $count endpoints answer ${want/admin/as listed}"
}
# alice's Task t has run: its log and TaskRun t-1-1 are rows below.
expect "alice's task ran" 0 "condition met" -- env KUBECONFIG="$tmp/alice" "$kubectl" wait \
  --timeout=30s --for=jsonpath='{.status.phase}'=Succeeded task/t
expect_codes "no token" 401 "$endpoints"
expect_codes "a wrong token" 401 "$endpoints" -H "Authorization: Bearer wrong-token"
expect_codes "a known token in the wrong scheme" 401 "$endpoints" \
  -H "Authorization: Basic $(printf alice:alice-token | base64)"
expect_codes "the admin" admin "$endpoints" -H "Authorization: Bearer admin-token"
# Open without a token, as Kubernetes' system:public-info-viewer role
# leaves them: the probes and the version kubectl reads first.
open_endpoints="
GET /healthz
GET /livez
GET /readyz
GET /version
"
expect_codes "open without a token" 200 "$open_endpoints"
expect_codes "open with a wrong token" 200 "$open_endpoints" -H "Authorization: Bearer wrong-token"

# The namespace policy: alice may do nothing outside team-a, cluster-wide
# included, on any resource or subresource.
other=/apis/solti.io/v1/namespaces/team-b
admin_create() {  # admin_create NAMESPACE NAME: prints the HTTP status code
  curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" -H "Authorization: Bearer admin-token" \
    -H 'Content-Type: application/json' --data-binary "$(task_json "$2")" "$url$all/namespaces/$1/tasks"
}
expect "the admin creates a task in team-b" 0 "^201$" -- admin_create team-b probe
forbidden_to_alice="
GET    $other/tasks                       -
GET    $other/tasks?watch=true            -
GET    $all/tasks                         -
GET    $all/tasks?watch=true              -
POST   $other/tasks                       task
GET    $other/tasks/probe                 -
PUT    $other/tasks/probe                 task
PATCH  $other/tasks/probe                 merge
DELETE $other/tasks/probe                 -
DELETE $other/tasks                       -
GET    $other/tasks/probe/status          -
PATCH  $other/tasks/probe/status          merge
GET    $other/tasks/probe/log             -
GET    $other/tasks/probe/log?follow=true -
GET    $other/taskruns                    -
GET    $other/taskruns?watch=true         -
GET    $all/taskruns?watch=true           -
GET    /metrics                           -
"
expect_codes "alice is forbidden" 403 "$forbidden_to_alice" -H "Authorization: Bearer alice-token"

# alice's watch on team-a delivers team-a only: while she watches, the
# admin creates in team-b and then in team-a. Events come in revision
# order, so once she has the team-a one she would have had the other.
watch_out=$tmp/alice-watch.json
rv=$(curl -s --cacert "$tmp/cert.pem" -H "Authorization: Bearer alice-token" "$url$ns/tasks" |
  sed -n 's/.*"metadata":{"resourceVersion":"\([0-9]*\)".*/\1/p')
curl -sN --max-time 30 --cacert "$tmp/cert.pem" -H "Authorization: Bearer alice-token" \
  "$url$ns/tasks?watch=true&resourceVersion=$rv" >"$watch_out" &
watcher=$!
admin_create team-b secret-b >/dev/null
admin_create team-a visible-a >/dev/null
for _ in $(seq 200); do grep -q '"visible-a"' "$watch_out" && break; sleep 0.05; done
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
expect "alice's team-a watch sees the team-a task" 0 '"type":"ADDED".*"name":"visible-a"' -- cat "$watch_out"
expect "alice's team-a watch shows nothing of team-b" 1 "" -- grep -E 'secret-b|team-b' "$watch_out"

# soltictl: the context's server, CA, token and namespace.
expect "soltictl uses the kubeconfig context" 0 "^t +t +" -- env KUBECONFIG="$tmp/alice" "$soltictl" get tasks
expect "soltictl is forbidden where kubectl is" 1 "Error from server \(Forbidden\)" -- \
  env KUBECONFIG="$tmp/alice" "$soltictl" get tasks -n team-b
expect "soltictl with a wrong token is Unauthorized" 1 "Error from server \(Unauthorized\)" -- \
  env KUBECONFIG="$tmp/stranger" "$soltictl" get tasks
sed "s|certificate-authority: \"$tmp/cert.pem\"|certificate-authority-data: $(base64 -w0 "$tmp/cert.pem")|" \
  "$tmp/admin" >"$tmp/admin-inline"
expect "soltictl takes inline CA data" 0 "team-a +t +t " -- \
  "$soltictl" --kubeconfig "$tmp/admin-inline" get tasks -A
expect "soltictl names a missing context" 1 'context "nope" does not exist' -- \
  env KUBECONFIG="$tmp/alice" "$soltictl" --context nope get tasks

finish
