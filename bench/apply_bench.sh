#!/usr/bin/env bash
# soltictl apply vs kubectl apply of the same directory of N small Task
# manifests (default 1000), each against a fresh soltid (API only, so the
# reconciler's work does not share the CPU with the clients).
# Usage: bench/apply_bench.sh [N]   (after cmake --build --preset default)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
kubectl=${KUBECTL:-/usr/bin/kubectl}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir "$tmp/tasks"
for i in $(seq -w 1 "$n"); do
  printf 'apiVersion: solti.io/v1\nkind: Task\nmetadata: {name: t-%s, labels: {bench: apply}}\nspec:\n  timeout: 10s\n  subprocess: {command: /bin/true}\n' "$i" >"$tmp/tasks/t-$i.yaml"
done

# run_against NAME CMD...: starts a fresh soltid, runs CMD with $server set, prints seconds.
run_against() {
  local name=$1 data="$tmp/data-$1"
  shift
  build/cmd/soltid --data-dir "$data" --listen 127.0.0.1:0 --no-reconciler >"$tmp/$name.out" 2>&1 &
  for _ in $(seq 100); do grep -q "ready on" "$tmp/$name.out" && break; sleep 0.05; done
  server=$(sed -n 's/.*ready on \(http:\/\/[0-9.:]*\).*/\1/p' "$tmp/$name.out")
  printf 'apiVersion: v1\nkind: Config\nclusters: [{name: s, cluster: {server: "%s"}}]\ncontexts: [{name: s, context: {cluster: s}}]\ncurrent-context: s\n' "$server" >"$tmp/kubeconfig"
  local start end count
  start=$(date +%s%N)
  KUBECONFIG="$tmp/kubeconfig" HOME="$tmp" "$@" >"$tmp/$name.log" 2>&1
  end=$(date +%s%N)
  count=$(grep -c created "$tmp/$name.log" || true)
  kill %% 2>/dev/null || true
  wait 2>/dev/null || true
  echo "$name $(( (end - start) / 1000000 )) $count"
}

echo "| client | manifests | created | seconds |"
echo "|---|---:|---:|---:|"
for result in "$(run_against soltictl build/kubectl-like/soltictl apply -f "$tmp/tasks")" \
              "$(run_against kubectl "$kubectl" apply -f "$tmp/tasks")"; do
  read -r name ms count <<<"$result"
  printf '| %s | %d | %d | %d.%03d |\n' "$name" "$n" "$count" $((ms / 1000)) $((ms % 1000))
done
