#!/usr/bin/env bash
# Builds the wasm modules the example manifests run, from their .wat text
# with wabt's wat2wasm, into /tmp/solti-examples.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p /tmp/solti-examples
for wat in manifests/examples/wasm/*.wat; do
  wat2wasm "$wat" -o "/tmp/solti-examples/$(basename "${wat%.wat}").wasm"
done
