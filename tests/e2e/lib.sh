# Shared by the end-to-end scripts: checks with a running count, and a real
# soltid on a free port with a temp data dir that goes away on exit.
# Needs $tmp (a temp dir) set before start_soltid.

failures=0
ok() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }
# expect NAME WANT_RC PATTERN -- CMD...: runs CMD, checks its exit code and that its output has PATTERN.
expect() {
  local name=$1 want=$2 pattern=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$want" ]; then fail "$name: exit $rc, want $want: $out"; return; fi
  if [ -n "$pattern" ] && ! grep -qE -- "$pattern" <<<"$out"; then fail "$name: no /$pattern/ in: $out"; return; fi
  ok "$name"
}
# The exit status of the script: 1 when any check failed.
finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  exit 0
}

# start_soltid SOLTID ARGS...: starts it, sets $pid and $port, stops it on exit.
start_soltid() {
  local binary=$1
  shift
  "$binary" --data-dir "$tmp/data" --listen 127.0.0.1:0 "$@" >"$tmp/soltid.out" 2>"$tmp/soltid.err" &
  pid=$!
  trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
  for _ in $(seq 100); do grep -q "ready on" "$tmp/soltid.out" && break; sleep 0.05; done
  port=$(sed -n 's/.*ready on https\{0,1\}:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/soltid.out")
  [ -n "$port" ] || { echo "soltid did not start"; cat "$tmp/soltid.err"; exit 1; }
}

# plain_kubeconfig FILE: kubectl config for the plain-HTTP soltid on $port.
plain_kubeconfig() {
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters: [{name: solti, cluster: {server: "http://127.0.0.1:$port"}}]
contexts: [{name: solti, context: {cluster: solti, namespace: default}}]
current-context: solti
KC
}
