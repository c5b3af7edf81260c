// Watch fan-out against a real soltid: N concurrent watch connections, then
// E creates at a fixed rate; every watcher must receive every event in
// order. Reports the time to open the watches, delivery latency (from just
// before the create is sent to the event's arrival) and soltid's threads and
// memory. Not part of the test suite.
//
//   watch_bench --soltid build/cmd/soltid [--watchers 1000] [--events 10000] [--rate 1000]
//               [--writers 16]
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "bench/bench_util.h"
#include "model/object_meta.h"

using bench::Clock;
using bench::percentile;
using bench::proc_status;

namespace {

// The number right after the first `marker` in `line`.
std::optional<int64_t> field_after(const std::string& line, std::string_view marker) {
  const size_t at = line.find(marker);
  if (at == std::string::npos) return std::nullopt;
  size_t end = at + marker.size();
  int64_t value = 0;
  bool any = false;
  for (; end < line.size() && std::isdigit(static_cast<unsigned char>(line[end])); ++end) {
    value = value * 10 + (line[end] - '0');
    any = true;
  }
  return any ? std::optional<int64_t>(value) : std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"watch_bench: watch fan-out of soltid"};
  std::string soltid_path;
  size_t watchers = 1000, events = 10000;
  double rate = 1000;
  app.add_option("--soltid", soltid_path, "Path of the soltid binary")->required();
  app.add_option("--watchers", watchers, "Concurrent watch connections");
  app.add_option("--events", events, "Tasks created while they watch");
  app.add_option("--rate", rate, "Creates per second");
  size_t writers = 16;
  app.add_option("--writers", writers, "Connections creating the Tasks");
  std::vector<std::string> soltid_flags;
  app.add_option("--soltid-flag", soltid_flags, "Extra soltid flag (repeatable)");
  CLI11_PARSE(app, argc, argv);

  // API-only, as the README says: with the reconciler each create would be
  // followed by four more events (finalizer, Running, TaskRun, Succeeded)
  // and the processes that make them.
  soltid_flags.insert(soltid_flags.begin(), {"--no-reconciler", "--max-connections",
                                             std::to_string(watchers + writers + 64)});
  bench::Soltid soltid(soltid_path, soltid_flags);
  soltid.start();
  const std::string base = "/apis/solti.io/v1/namespaces/bench/tasks";

  // Send times by task index, filled by the writer before each create.
  std::vector<std::atomic<int64_t>> sent(events);
  std::vector<std::vector<double>> latency(watchers);
  std::vector<size_t> received(watchers, 0), out_of_order(watchers, 0);
  std::atomic<size_t> finished{0};
  std::mutex report_mu;
  std::map<std::string, size_t> ended_early;  // why watches ended before the last event

  auto open_start = Clock::now();
  std::vector<std::thread> threads;
  for (size_t w = 0; w < watchers; ++w) {
    threads.emplace_back([&, w] {
      httplib::Client client("127.0.0.1", soltid.port());
      client.set_read_timeout(std::chrono::seconds(120));
      std::string buffer;
      int64_t last_version = -1;
      auto result =
          client.Get(base + "?watch=true&resourceVersion=0&timeoutSeconds=300", httplib::Headers{},
                     [&](const char* data, size_t length) {
                       const int64_t now = Clock::now().time_since_epoch().count();
                       buffer.append(data, length);
                       size_t nl;
                       while ((nl = buffer.find('\n')) != std::string::npos) {
                         const std::string line = buffer.substr(0, nl);
                         buffer.erase(0, nl + 1);
                         // Only ADDED events of our creates count; fields are read
                         // from the text, so that the watchers' own JSON decoding
                         // does not take the CPU the server needs.
                         if (line.find(R"("type":"ADDED")") == std::string::npos) continue;
                         const auto name = field_after(line, R"("name":"t-)");
                         const auto rv = field_after(line, R"("resourceVersion":")");
                         if (!name || !rv) continue;
                         const int64_t index = *name;
                         // In order means in resourceVersion order: with several
                         // writers, creates commit in any order of their names.
                         const int64_t version = *rv;
                         if (version <= last_version) ++out_of_order[w];
                         last_version = version;
                         latency[w].push_back(double(now - sent[size_t(index)].load()) / 1e6);
                         ++received[w];
                       }
                       if (received[w] >= events) {
                         ++finished;
                         return false;
                       }
                       return true;
                     });
      if (received[w] < events) {
        std::lock_guard lock(report_mu);
        ended_early[httplib::to_string(result.error()) + " status " +
                    std::to_string(result ? result->status : 0)]++;
      }
    });
  }
  // All watches are open once the server's gauge says so.
  httplib::Client control("127.0.0.1", soltid.port());
  std::string needle = "solti_apiserver_watchers " + std::to_string(watchers);
  const auto open_deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < open_deadline) {
    auto r = control.Get("/metrics");
    if (r && r->body.find(needle) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double open_seconds = std::chrono::duration<double>(Clock::now() - open_start).count();
  const std::string threads_open = proc_status(soltid.pid(), "Threads");

  // `writers` connections create the Tasks on a fixed schedule, event i
  // at write_start + i/rate, so that one slow create does not delay the rest.
  auto write_start = Clock::now() + std::chrono::milliseconds(100);
  std::atomic<size_t> create_failures{0};
  std::vector<std::thread> writer_threads;
  for (size_t k = 0; k < writers; ++k) {
    writer_threads.emplace_back([&, k] {
      httplib::Client client("127.0.0.1", soltid.port());
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      for (size_t i = k; i < events; i += writers) {
        std::this_thread::sleep_until(write_start +
                                      std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(double(i) / rate)));
        std::string name = "t-" + std::to_string(i);
        sent[i] = Clock::now().time_since_epoch().count();
        auto r =
            client.Post(base,
                        R"({"apiVersion":"solti.io/v1","kind":"Task","metadata":{"name":")" + name +
                            R"("},"spec":{"timeout":"5s","subprocess":{"command":"/bin/true"}}})",
                        "application/json");
        if (!r || r->status != 201) ++create_failures;
      }
    });
  }
  for (auto& t : writer_threads) t.join();
  const double write_seconds = std::chrono::duration<double>(Clock::now() - write_start).count();
  if (create_failures > 0) {
    std::fprintf(stderr, "%zu creates failed\n", create_failures.load());
    return 1;
  }
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (finished < watchers && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const std::string rss = proc_status(soltid.pid(), "VmRSS");
  // Stopping soltid closes every watch, so each watcher thread returns; only
  // then are their figures read.
  soltid.stop();
  for (auto& t : threads) t.join();

  std::vector<double> all;
  size_t total = 0, disorder = 0, complete = 0;
  for (size_t w = 0; w < watchers; ++w) {
    all.insert(all.end(), latency[w].begin(), latency[w].end());
    total += received[w];
    disorder += out_of_order[w];
    complete += received[w] == events;
  }
  std::printf(
      "| watchers | events | rate /s (achieved) | delivered | watchers complete | out of order "
      "| open all (s) | p50 ms | p99 ms | max ms | soltid threads | soltid RSS |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::printf(
      "| %zu | %zu | %.0f (%.0f) | %zu / %zu | %zu | %zu | %.2f | %.1f | %.1f | %.1f | %s | %s |\n",
      watchers, events, rate, double(events) / write_seconds, total, watchers * events, complete,
      disorder, open_seconds, percentile(all, 0.5), percentile(all, 0.99), percentile(all, 1.0),
      threads_open.c_str(), rss.c_str());
  {
    std::lock_guard lock(report_mu);
    for (const auto& [why, count] : ended_early)
      std::printf("ended early: %zu x %s\n", count, why.c_str());
  }
  std::fflush(stdout);
  std::_Exit(complete == watchers && disorder == 0 ? 0 : 1);
}
