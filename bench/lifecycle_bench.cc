// How fast soltid turns an applied Task into a finished process.
//
// 1. Latency on an idle server: N `/bin/true` Tasks, one at a time; from
//    just before each create is sent to the watch event that shows it
//    Running, and to the one that shows it Succeeded.
// 2. Throughput: a burst of M `/bin/true` Tasks created by 32 clients;
//    the time from the first create until a watch has shown every one
//    Succeeded.
// 3. This machine's limit beside it: a bare posix_spawn + waitpid loop of
//    /bin/true, one at a time and on every core.
//
//   lifecycle_bench --soltid build/cmd/soltid [--latency-tasks 200] [--burst 10000]
#include <httplib.h>
#include <spawn.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>

#include "bench/bench_util.h"
#include "model/object_meta.h"

extern char** environ;

namespace {

using bench::Clock;

// The string value of the first `key` after `anchor` in a JSON text, found
// without decoding: this client must read ~50,000 events of a burst while
// taking as little CPU as it can from soltid on the same two cores.
std::string_view string_after(std::string_view text, std::string_view anchor,
                              std::string_view key) {
  size_t at = text.find(anchor);
  if (at == std::string_view::npos) return {};
  at = text.find(key, at + anchor.size());
  if (at == std::string_view::npos) return {};
  at += key.size();
  const size_t end = text.find('"', at);
  return end == std::string_view::npos ? std::string_view() : text.substr(at, end - at);
}

// One watch on a namespace's Tasks from "now", remembering when each Task
// was first seen in each phase.
class PhaseWatch {
 public:
  PhaseWatch(int port, const std::string& ns) {
    httplib::Client start("127.0.0.1", port);
    auto list = start.Get("/apis/solti.io/v1/namespaces/" + ns + "/tasks?limit=1");
    const std::string rv = solti::Json::parse(list->body)["metadata"]["resourceVersion"];
    thread_ = std::thread([this, port, ns, rv] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(std::chrono::seconds(600));
      std::string buffer;
      client.Get("/apis/solti.io/v1/namespaces/" + ns +
                     "/tasks?watch=true&timeoutSeconds=3600&resourceVersion=" + rv,
                 [&](const char* data, size_t length) {
                   const auto now = Clock::now();
                   buffer.append(data, length);
                   size_t begin = 0;
                   for (size_t nl; (nl = buffer.find('\n', begin)) != std::string::npos;
                        begin = nl + 1) {
                     const std::string_view line(buffer.data() + begin, nl - begin);
                     const std::string name(string_after(line, R"("metadata":{)", R"("name":")"));
                     const std::string phase(string_after(line, R"("status":{)", R"("phase":")"));
                     if (name.empty() || phase.empty()) continue;
                     std::lock_guard lock(mu_);
                     if (seen_[phase].emplace(name, now).second) changed_.notify_all();
                   }
                   buffer.erase(0, begin);
                   return !stopping_;
                 });
      std::lock_guard lock(mu_);
      ended_ = true;  // by the server (a watcher that lags too far) or by us
      changed_.notify_all();
    });
  }
  ~PhaseWatch() {
    stopping_ = true;
    thread_.detach();  // ends with the server
  }

  // Waits up to `timeout` until `count` Tasks have been seen in `phase` or
  // the watch ended; returns how many have.
  size_t wait_for_count(const std::string& phase, size_t count, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    const auto& seen = seen_[phase];
    changed_.wait_for(lock, timeout, [&] { return seen.size() >= count || ended_; });
    if (ended_ && seen.size() < count) std::fprintf(stderr, "the watch ended early\n");
    return seen.size();
  }

  // When `name` was first seen in `phase`; waits up to `timeout`.
  std::optional<Clock::time_point> when(const std::string& name, const std::string& phase,
                                        std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    const bool seen = changed_.wait_for(lock, timeout, [&] { return seen_[phase].count(name); });
    if (!seen) return std::nullopt;
    return seen_[phase][name];
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, std::map<std::string, Clock::time_point>> seen_;  // phase → name → when
  bool ended_ = false;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

std::string true_task(const std::string& name) {
  return R"({"apiVersion":"solti.io/v1","kind":"Task","metadata":{"name":")" + name +
         R"("},"spec":{"timeout":"30s","subprocess":{"command":"/bin/true"}}})";
}

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// posix_spawn + waitpid of /bin/true, `count` times on each of `loops`
// threads; spawns per second.
double spawn_loop(size_t count, size_t loops) {
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (size_t l = 0; l < loops; ++l) {
    threads.emplace_back([count] {
      char path[] = "/bin/true";
      char* argv[] = {path, nullptr};
      for (size_t i = 0; i < count; ++i) {
        pid_t pid;
        if (posix_spawn(&pid, path, nullptr, nullptr, argv, environ) != 0) std::exit(1);
        int status;
        waitpid(pid, &status, 0);
      }
    });
  }
  for (auto& t : threads) t.join();
  return double(count * loops) / bench::seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lifecycle_bench: apply-to-Running/Succeeded latency and Task throughput"};
  std::string soltid_path;
  size_t latency_tasks = 200, burst = 10000, spawns = 5000;
  std::vector<std::string> soltid_flags;
  app.add_option("--soltid", soltid_path, "Path of the soltid binary")->required();
  app.add_option("--latency-tasks", latency_tasks, "Tasks for the latency figure");
  app.add_option("--burst", burst, "Tasks created in the burst");
  app.add_option("--spawns", spawns, "posix_spawn loop iterations per core");
  app.add_option("--soltid-flag", soltid_flags, "Extra soltid flag (repeatable)");
  CLI11_PARSE(app, argc, argv);

  bench::Soltid soltid(soltid_path, soltid_flags);
  soltid.start();
  httplib::Client client("127.0.0.1", soltid.port());
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);

  // 1. Latency, one Task at a time on an idle server.
  {
    PhaseWatch watch(soltid.port(), "latency");
    std::vector<double> to_running, to_succeeded;
    size_t running_unseen = 0;
    for (size_t i = 0; i < latency_tasks; ++i) {
      const std::string name = "l-" + std::to_string(i);
      const auto sent = Clock::now();
      auto r = client.Post("/apis/solti.io/v1/namespaces/latency/tasks", true_task(name),
                           "application/json");
      if (!r || r->status != 201) {
        std::fprintf(stderr, "create %s failed\n", name.c_str());
        return 1;
      }
      auto succeeded = watch.when(name, "Succeeded", std::chrono::seconds(30));
      if (!succeeded) {
        std::fprintf(stderr, "%s did not succeed\n", name.c_str());
        return 1;
      }
      to_succeeded.push_back(ms_between(sent, *succeeded));
      if (auto running = watch.when(name, "Running", std::chrono::seconds(0))) {
        to_running.push_back(ms_between(sent, *running));
      } else {
        ++running_unseen;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // idle between Tasks
    }
    std::printf("apply -> phase latency, %zu /bin/true Tasks one at a time, idle server\n\n",
                latency_tasks);
    bench::table_header({"to phase", "Tasks", "p50 ms", "p90 ms", "p99 ms", "max ms"});
    for (auto [phase, values] : {std::pair{"Running", &to_running}, {"Succeeded", &to_succeeded}})
      bench::table_row({phase, std::to_string(values->size()),
                        bench::fixed(bench::percentile(*values, 0.5), 2),
                        bench::fixed(bench::percentile(*values, 0.9), 2),
                        bench::fixed(bench::percentile(*values, 0.99), 2),
                        bench::fixed(bench::percentile(*values, 1.0), 2)});
    if (running_unseen)
      std::printf("(%zu Tasks went to Succeeded with no Running event seen)\n", running_unseen);
  }

  // 2. Throughput of a burst, its end seen on a watch. (Polling a list of
  // 10,000 Tasks five times a second, as this bench first did, took a good
  // share of the two cores from soltid.)
  {
    PhaseWatch watch(soltid.port(), "burst");
    const auto start = Clock::now();
    const size_t failed =
        bench::create_all(soltid.port(), "/apis/solti.io/v1/namespaces/burst/tasks", burst, 32,
                          [](size_t i) { return true_task("b-" + std::to_string(i)); });
    const double create_seconds = bench::seconds_since(start);
    const size_t succeeded =
        watch.wait_for_count("Succeeded", burst - failed, std::chrono::seconds(600));
    const double total_seconds = bench::seconds_since(start);
    std::printf("\nburst of %zu /bin/true Tasks (32 clients creating)\n\n", burst);
    bench::table_header({"created in s", "all Succeeded after s", "Tasks/s", "Succeeded",
                         "create errors", "soltid RSS MB"});
    bench::table_row({bench::fixed(create_seconds, 2), bench::fixed(total_seconds, 2),
                      bench::fixed(double(succeeded) / total_seconds, 0), std::to_string(succeeded),
                      std::to_string(failed), bench::fixed(bench::rss_mb(soltid.pid()), 0)});
  }
  soltid.stop();

  // 3. The machine's own limit.
  const double one = spawn_loop(spawns, 1);
  const size_t cores = std::thread::hardware_concurrency();
  const double all = spawn_loop(spawns, cores);
  std::printf("\nbare posix_spawn + waitpid of /bin/true\n\n");
  bench::table_header({"loops", "spawns/s"});
  bench::table_row({"1", bench::fixed(one, 0)});
  bench::table_row({std::to_string(cores) + " (one per core)", bench::fixed(all, 0)});
  return 0;
}
