#!/usr/bin/env bash
# End-to-end: TLS, bearer tokens and the namespace policy, with the stock
# kubectl using a CA bundle (kubectl sends tokens only over TLS).
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
expect "no token is 401" 0 "^401$" -- curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" "$url/apis/solti.io/v1/namespaces/team-a/tasks"
expect "no token on watch is 401" 0 "^401$" -- curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" "$url/apis/solti.io/v1/namespaces/team-a/tasks?watch=true"
expect "no token on discovery is 401" 0 "^401$" -- curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" "$url/apis"
expect "metrics need a policy grant" 0 "^403$" -- curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" -H "Authorization: Bearer alice-token" "$url/metrics"
expect "the admins group may read metrics" 0 "solti_store_revision" -- curl -s --cacert "$tmp/cert.pem" -H "Authorization: Bearer admin-token" "$url/metrics"
expect "readyz stays open for probes" 0 "^ok$" -- curl -s --cacert "$tmp/cert.pem" "$url/readyz"
expect "plain HTTP is refused on the TLS port" 0 "^000$" -- bash -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/version; true"
expect "an untrusted client sees a certificate error" 60 "" -- curl -s "$url/version"

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
