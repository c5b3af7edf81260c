#!/usr/bin/env bash
# soltictl apply vs kubectl apply of the same directory of N small Task
# manifests (default 1000), against the same soltid (API only, so that the
# reconciler's work does not share the CPU with the clients). Each round
# applies into fresh namespaces, so every apply creates all N Tasks.
# Usage: [SOLTID=path] bench/apply_bench.sh [N] [ROUNDS]   (after cmake --build --preset default)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
rounds=${2:-3}
kubectl=${KUBECTL:-/usr/bin/kubectl}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir "$tmp/tasks"
for i in $(seq -w 1 "$n"); do
  printf 'apiVersion: solti.io/v1\nkind: Task\nmetadata: {name: t-%s, labels: {bench: apply}}\nspec:\n  timeout: 10s\n  subprocess: {command: /bin/true}\n' "$i" >"$tmp/tasks/t-$i.yaml"
done

"${SOLTID:-build/cmd/soltid}" --data-dir "$tmp/data" --listen 127.0.0.1:0 --no-reconciler >"$tmp/soltid.out" 2>&1 &
for _ in $(seq 100); do grep -q "ready on" "$tmp/soltid.out" && break; sleep 0.05; done
server=$(sed -n 's/.*ready on \(http:\/\/[0-9.:]*\).*/\1/p' "$tmp/soltid.out")
printf 'apiVersion: v1\nkind: Config\nclusters: [{name: s, cluster: {server: "%s"}}]\ncontexts: [{name: s, context: {cluster: s}}]\ncurrent-context: s\n' "$server" >"$tmp/kubeconfig"

# seconds NAMESPACE CMD...: runs CMD against soltid in NAMESPACE, checks that it
# created all N Tasks, prints the seconds it took.
seconds() {
  local ns=$1
  shift
  local start end
  start=$(date +%s%N)
  KUBECONFIG="$tmp/kubeconfig" HOME="$tmp" "$@" -n "$ns" >"$tmp/out" 2>&1
  end=$(date +%s%N)
  local created
  created=$(grep -c created "$tmp/out" || true)
  [ "$created" = "$n" ] || { echo "only $created of $n created in $ns:" >&2; tail -3 "$tmp/out" >&2; exit 1; }
  printf '%.3f\n' "$(echo "($end - $start) / 1000000000" | bc -l)"
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

ours=() theirs=()
for round in $(seq "$rounds"); do
  ours+=("$(seconds "soltictl-$round" build/kubectl-like/soltictl apply -f "$tmp/tasks")")
  theirs+=("$(seconds "kubectl-$round" "$kubectl" apply -f "$tmp/tasks")")
done
ours_median=$(printf '%s\n' "${ours[@]}" | median)
theirs_median=$(printf '%s\n' "${theirs[@]}" | median)
header="| client |" rule="|---|"
for round in $(seq "$rounds"); do header+=" run $round s |"; rule+="---:|"; done
echo "$n manifests, $rounds rounds, one soltid ($(nproc) cores, every create fsynced)"
echo "$header median s |"
echo "$rule---:|"
echo "| soltictl | $(printf '%s | ' "${ours[@]}")$ours_median |"
echo "| kubectl $("$kubectl" version --client -o json | grep -m1 -o 'v[0-9][0-9.]*') | $(printf '%s | ' "${theirs[@]}")$theirs_median |"
printf 'soltictl is %.1fx faster by the medians\n' "$(echo "$theirs_median / $ours_median" | bc -l)"
