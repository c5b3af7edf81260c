// Watch fan-out against a real soltid: N concurrent watch connections, then
// E creates at a fixed rate; every watcher must receive every event in
// order. Reports the time to open the watches, delivery latency (from just
// before the create is sent to the event's arrival) and soltid's threads and
// memory. Not part of the test suite.
//
//   watch_bench --soltid build/cmd/soltid [--watchers 1000] [--events 200] [--rate 100]
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include "model/object_meta.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Soltid {
  pid_t pid = -1;
  int port = 0;
  std::string dir;
};

Soltid start_soltid(const std::string& binary, size_t max_connections) {
  Soltid s;
  std::string pattern =
      (std::filesystem::temp_directory_path() / "solti-watch-bench-XXXXXX").string();
  s.dir = mkdtemp(pattern.data());
  int out[2];
  if (pipe(out) != 0) std::exit(1);
  s.pid = fork();
  if (s.pid == 0) {
    dup2(out[1], 1);
    std::string connections = std::to_string(max_connections);
    execl(binary.c_str(), binary.c_str(), "--data-dir", s.dir.c_str(), "--listen", "127.0.0.1:0",
          "--max-connections", connections.c_str(), nullptr);
    _exit(127);
  }
  close(out[1]);
  std::string line;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
  std::smatch m;
  if (!std::regex_search(line, m, std::regex(R"(127\.0\.0\.1:(\d+))"))) {
    std::fprintf(stderr, "soltid did not start: %s\n", line.c_str());
    std::exit(1);
  }
  s.port = std::stoi(m[1]);
  return s;
}

std::string proc_status(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "?";
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[size_t(p * double(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"watch_bench: watch fan-out of soltid"};
  std::string soltid_path;
  size_t watchers = 1000, events = 200;
  double rate = 100;
  app.add_option("--soltid", soltid_path, "Path of the soltid binary")->required();
  app.add_option("--watchers", watchers, "Concurrent watch connections");
  app.add_option("--events", events, "Tasks created while they watch");
  app.add_option("--rate", rate, "Creates per second");
  CLI11_PARSE(app, argc, argv);

  Soltid soltid = start_soltid(soltid_path, watchers + 64);
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
      httplib::Client client("127.0.0.1", soltid.port);
      client.set_read_timeout(std::chrono::seconds(120));
      std::string buffer;
      int64_t last_index = -1;
      auto result =
          client.Get(base + "?watch=true&resourceVersion=0&timeoutSeconds=300", httplib::Headers{},
                     [&](const char* data, size_t length) {
                       const int64_t now = Clock::now().time_since_epoch().count();
                       buffer.append(data, length);
                       size_t nl;
                       while ((nl = buffer.find('\n')) != std::string::npos) {
                         auto j = solti::Json::parse(buffer.substr(0, nl), nullptr, false);
                         buffer.erase(0, nl + 1);
                         const std::string name = j["object"]["metadata"].value("name", "t-0");
                         const int64_t index = std::stoll(name.substr(2));
                         if (index <= last_index) ++out_of_order[w];
                         last_index = index;
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
  httplib::Client control("127.0.0.1", soltid.port);
  std::string needle = "solti_apiserver_watchers " + std::to_string(watchers);
  const auto open_deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < open_deadline) {
    auto r = control.Get("/metrics");
    if (r && r->body.find(needle) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double open_seconds = std::chrono::duration<double>(Clock::now() - open_start).count();
  const std::string threads_open = proc_status(soltid.pid, "Threads");

  auto write_start = Clock::now();
  for (size_t i = 0; i < events; ++i) {
    auto due = write_start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(double(i) / rate));
    std::this_thread::sleep_until(due);
    std::string name = "t-" + std::to_string(i);
    sent[i] = Clock::now().time_since_epoch().count();
    auto r =
        control.Post(base,
                     R"({"apiVersion":"solti.io/v1","kind":"Task","metadata":{"name":")" + name +
                         R"("},"spec":{"timeout":"5s","subprocess":{"command":"/bin/true"}}})",
                     "application/json");
    if (!r || r->status != 201) {
      std::fprintf(stderr, "create %s failed\n", name.c_str());
      return 1;
    }
  }
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (finished < watchers && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const std::string rss = proc_status(soltid.pid, "VmRSS");
  const std::string threads_peak = proc_status(soltid.pid, "Threads");
  kill(soltid.pid, SIGTERM);
  for (auto& t : threads) t.detach();
  int status = 0;
  waitpid(soltid.pid, &status, 0);
  std::filesystem::remove_all(soltid.dir);

  std::vector<double> all;
  size_t total = 0, disorder = 0, complete = 0;
  for (size_t w = 0; w < watchers; ++w) {
    all.insert(all.end(), latency[w].begin(), latency[w].end());
    total += received[w];
    disorder += out_of_order[w];
    complete += received[w] == events;
  }
  std::printf(
      "| watchers | events | delivered | watchers complete | out of order | open all (s) | p50 ms "
      "| p99 ms | max ms | soltid threads | soltid RSS |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::printf("| %zu | %zu | %zu / %zu | %zu | %zu | %.2f | %.1f | %.1f | %.1f | %s | %s |\n",
              watchers, events, total, watchers * events, complete, disorder, open_seconds,
              percentile(all, 0.5), percentile(all, 0.99), percentile(all, 1.0),
              threads_open.c_str(), rss.c_str());
  {
    std::lock_guard lock(report_mu);
    for (const auto& [why, count] : ended_early)
      std::printf("ended early: %zu x %s\n", count, why.c_str());
  }
  std::fflush(stdout);
  std::_Exit(complete == watchers && disorder == 0 ? 0 : 1);
}
