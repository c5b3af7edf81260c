#!/usr/bin/env bash
# Every benchmark of bench/README.md, one after the other, each printing its
# Markdown table: builds first, and installs etcd (the peer of create_bench)
# when it is missing. Takes about 6 minutes on 2 cores. Run it on an idle
# machine; nothing else should share the CPU.
# Usage: bash bench/run_all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
if ! command -v etcd >/dev/null; then
  apt-get install -y etcd-server >/dev/null
fi
soltid=build/cmd/soltid
ulimit -n 65536 2>/dev/null || true  # 1,000 watchers need a descriptor each, twice

echo "# Solti benchmarks, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)"
echo
echo "## 1. Durable creates/s through HTTP, soltid and etcd $(etcd --version | sed -n 's/etcd Version: //p')"
build/bench/create_bench --soltid "$soltid" --etcd "$(command -v etcd)" --clients 32,128 --seconds 5 2>/dev/null
echo
echo "## 2. Watch fan-out: 1,000 watchers, 1,000 creates/s for 10 s"
build/bench/watch_bench --soltid "$soltid" --watchers 1000 --events 10000 --rate 1000 2>/dev/null
echo
echo "## 3 and 4. apply -> Running/Succeeded latency; a burst of 10,000 Tasks; the machine's spawn rate"
build/bench/lifecycle_bench --soltid "$soltid" --latency-tasks 200 --burst 10000 2>/dev/null
echo
echo "## 5. 100,000 stored Tasks"
build/bench/scale_bench --soltid "$soltid" --tasks 100000 2>/dev/null
echo
echo "## 6. soltictl apply vs kubectl apply, 1,000 manifests"
bash bench/apply_bench.sh 1000 3
