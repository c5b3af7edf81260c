#!/usr/bin/env bash
# Installs Solti's build and test dependencies from Debian's archive.
# Idempotent and quick when everything is present: apt is only touched when a
# package is missing. Works as root on a fresh Debian 12 machine (or via sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libyaml-cpp-dev nlohmann-json3-dev librocksdb-dev libboost-dev
  libcpp-httplib-dev libssl-dev libcli11-dev prometheus-cpp-dev libjemalloc-dev
  libgtest-dev libgmock-dev openssl curl
  clang-format
  podman runc busybox-static wabt
)
# The wasm runner's fallback runtime; any Node.js >= 18 will do.
command -v node >/dev/null || packages+=(nodejs)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
