#!/usr/bin/env bash
# Solti's main job. Today: build, then check every example manifest the way
# the API server will (decoding, unknown fields, validation, defaults) and
# show what each Task will run. It grows into "start soltid, apply the
# examples, watch them run" as the server and reconciler land.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
echo "== soltictl validate -R -f manifests/examples"
build/kubectl-like/soltictl validate -R -f manifests/examples
echo
echo "== a broken manifest is refused with file, line and column:"
if build/kubectl-like/soltictl validate -f tests/data/invalid/backoff-factor.yaml; then
  echo "expected a validation failure" >&2
  exit 1
fi
