// Durable creates/s of the store alone (no HTTP), 1 KiB objects, at several
// numbers of concurrent writers: shows what group commit buys. Prints a
// Markdown table. Not part of the test suite.
//
//   store_bench [--threads 1,8,32,128] [--seconds 3] [--value-bytes 1024] [--unsafe-no-fsync]
#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <thread>

#include "store/store.h"

namespace {

struct Result {
  int threads;
  double writes_per_second;
  double writes_per_fsync;
  double p50_ms, p99_ms;
};

Result run(int threads, double seconds, size_t value_bytes, bool sync, const std::string& dir) {
  std::filesystem::remove_all(dir);
  solti::store::Options options;
  options.path = dir;
  options.sync_writes = sync;
  options.compaction_interval = std::chrono::milliseconds(0);
  auto store = solti::store::open_rocksdb_store(options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    std::exit(1);
  }
  const std::string payload(value_bytes, 'x');
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(threads);
  std::vector<std::thread> workers;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        auto begin = std::chrono::steady_clock::now();
        std::string key = "/bench/things/default/t" + std::to_string(t) + "-" + std::to_string(i);
        auto created = (*store)->create(key, {{"metadata", {{"name", key}}}, {"payload", payload}});
        if (!created.ok()) {
          std::fprintf(stderr, "%s\n", created.status().to_string().c_str());
          std::exit(1);
        }
        latencies[t].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin)
                .count());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  solti::store::Stats stats = (*store)->stats();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return all.empty() ? 0 : all[size_t(p * double(all.size() - 1))]; };
  store->reset();
  std::filesystem::remove_all(dir);
  return {threads, double(stats.writes) / elapsed,
          double(stats.writes) / double(stats.commit_batches), pct(0.5), pct(0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"store_bench: durable creates/s of the RocksDB store"};
  std::vector<int> thread_counts = {1, 8, 32, 128};
  double seconds = 3;
  size_t value_bytes = 1024;
  bool no_fsync = false;
  std::string dir = (std::filesystem::temp_directory_path() / "solti-store-bench").string();
  app.add_option("--threads", thread_counts, "Concurrent writers, e.g. 1,8,32")->delimiter(',');
  app.add_option("--seconds", seconds, "Duration of each run");
  app.add_option("--value-bytes", value_bytes, "Payload size per object");
  app.add_option("--dir", dir, "Scratch directory (wiped)");
  app.add_flag("--unsafe-no-fsync", no_fsync, "Do not fsync the WAL (benchmark comparison only)");
  CLI11_PARSE(app, argc, argv);

  std::printf("| writers | creates/s | writes per fsync | p50 ms | p99 ms |\n");
  std::printf("|---:|---:|---:|---:|---:|\n");
  for (int threads : thread_counts) {
    Result r = run(threads, seconds, value_bytes, !no_fsync, dir);
    std::printf("| %d | %.0f | %.1f | %.2f | %.2f |\n", r.threads, r.writes_per_second,
                r.writes_per_fsync, r.p50_ms, r.p99_ms);
    std::fflush(stdout);
  }
}
