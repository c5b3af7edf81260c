#!/usr/bin/env bash
# Every benchmark of bench/README.md, one after the other, each printing its
# Markdown table: builds first, and installs etcd (the peer of create_bench)
# when it is missing. Takes about 14 minutes on 2 cores. Run it on an idle
# machine; nothing else should share the CPU.
# Usage: bash bench/run_all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
if ! command -v etcd >/dev/null; then
  apt-get install -y etcd-server >/dev/null
fi
soltid=build/cmd/soltid
# A bench that fails says so and the others still run. Each starts after the
# last one's writes are on disk: right after create_bench, the kernel's
# writeback of its gigabyte took CPU from watch_bench (p99 123 ms, against
# 40-45 ms standalone the same hour).
run() {
  sync
  sleep "${pause:-5}"
  "$@" 2>/dev/null || echo "(failed: exit $?)"
}

echo "# Solti benchmarks, $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)"
echo
echo "## 1. Durable creates/s through HTTP, soltid and etcd $(etcd --version | sed -n 's/etcd Version: //p')"
run build/bench/create_bench --soltid "$soltid" --etcd "$(command -v etcd)" --clients 32,128 --seconds 5
echo
echo "## 2. Watch fan-out: 1,000 watchers, 1,000 creates/s for 10 s"
run build/bench/watch_bench --soltid "$soltid" --watchers 1000 --events 10000 --rate 1000
echo
echo "## 3 and 4. apply -> Running/Succeeded latency; a burst of 10,000 Tasks; the machine's spawn rate"
# The burst makes 20,000 inodes (a log directory and file per Task). ext4
# without a journal, as on this VM, skips inodes freed in the last minute by
# scanning past each of them, so a burst right after a run that deleted tens
# of thousands of files spent 20% of the machine in find_inode_bit: it waits
# that minute out.
pause=65 run build/bench/lifecycle_bench --soltid "$soltid" --latency-tasks 200 --burst 10000
echo
echo "## 5. 100,000 stored Tasks"
run build/bench/scale_bench --soltid "$soltid" --tasks 100000
echo
echo "## 6. soltictl apply vs kubectl apply, 1,000 manifests"
run bash bench/apply_bench.sh 1000 3
