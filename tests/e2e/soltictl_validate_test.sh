#!/usr/bin/env bash
# End-to-end: the soltictl binary's `validate` verb, its output and exit codes.
# Usage: soltictl_validate_test.sh SOLTICTL SOURCE_DIR
set -uo pipefail
soltictl=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

check() {  # check NAME EXPECTED_RC GREP_PATTERN FILE
  local name=$1 want_rc=$2 pattern=$3 file=$4
  if [ "$rc" -ne "$want_rc" ]; then
    echo "FAIL $name: exit code $rc, want $want_rc"; cat "$tmp/out" "$tmp/err"; failures=$((failures + 1)); return
  fi
  if ! grep -qF -- "$pattern" "$file"; then
    echo "FAIL $name: missing '$pattern' in:"; cat "$file"; failures=$((failures + 1)); return
  fi
  echo "ok   $name"
}

run() { "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }

run "$soltictl" validate -R -f "$src/manifests/examples"
check "examples are valid" 0 "8 task(s) in 7 file(s) are valid" "$tmp/out"
check "defaults are shown" 0 "task/hello  kind=subprocess slot=hello restartPolicy=Never admission=DropIfRunning timeout=10s" "$tmp/out"
check "explicit policies are shown" 0 "task/migrate-step-2  kind=subprocess slot=db-migrations restartPolicy=Never admission=Queue" "$tmp/out"

run "$soltictl" validate -f "$src/tests/data/invalid/backoff-factor.yaml"
check "invalid file fails with line and column" 1 "backoff-factor.yaml:11:5: spec.backoff.factor: must be >= 1, got 0.5" "$tmp/err"

run "$soltictl" validate -f "$src/tests/data/invalid"
check "a directory of broken files reports them all" 1 "problem(s) in 21 file(s)" "$tmp/err"

run "$soltictl" validate -f - <"$src/manifests/examples/05-queued-slot.yaml"
check "stdin is read with -f -" 0 "ok  <stdin>  task/migrate-step-1" "$tmp/out"

mkdir -p "$tmp/tree/nested/deeper"
cp "$src/manifests/examples/01-hello.yaml" "$tmp/tree/top.yaml"
cp "$src/tests/data/invalid/zero-timeout.yaml" "$tmp/tree/nested/deeper/bad.yml"
echo "not a manifest" >"$tmp/tree/nested/notes.txt"
run "$soltictl" validate -f "$tmp/tree"
check "without -R subdirectories are not read" 0 "1 task(s) in 1 file(s) are valid" "$tmp/out"
run "$soltictl" validate -R -f "$tmp/tree"
check "with -R nested files are read" 1 "bad.yml:6:3: spec.timeout: must be greater than 0, got 0s" "$tmp/err"

run "$soltictl" validate -f "$tmp/does-not-exist"
check "a missing path is an error" 1 "does not exist" "$tmp/err"

run "$soltictl" validate
check "usage errors exit 2" 2 "--filename is required" "$tmp/err"

run "$soltictl" version
check "version" 0 "soltictl " "$tmp/out"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
