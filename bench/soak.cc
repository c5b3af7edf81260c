// soak: soltid under mixed load for minutes, for leaks and rare failures.
//
// Threads run side by side until the end: Tasks that run short processes
// (/bin/true, echo, a failing script retried twice) created and deleted
// again so that at most --max-live of them exist; PUTs with
// resourceVersion on a few long-lived Tasks, two writers racing on the
// same objects on purpose; merge and JSON patches; paged lists of Tasks and
// TaskRuns; watches that end after a few seconds and resume from their last
// resourceVersion; and log fetches of finished Tasks. soltid's RSS is
// sampled every few seconds.
//
// Prints the requests by kind, the errors (any unexpected HTTP status or
// transport error; 409 conflicts of the deliberate races are counted apart
// as expected), the Tasks run, and the mean RSS over minute 2 against the
// mean over the last minute.
// Exits 1 when there was an error or the RSS grew by --max-growth percent
// or more. Run by scripts/soak.sh.
#include <httplib.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"

namespace {

using Json = nlohmann::json;
using bench::Clock;
using namespace std::chrono_literals;

const std::string kTasks = "/apis/solti.io/v1/namespaces/soak/tasks";
const std::string kTaskRuns = "/apis/solti.io/v1/namespaces/soak/taskruns";
const std::string kLogMarker = "soak says hello";

// Requests by kind, the unexpected outcomes and the expected conflicts.
class Tally {
 public:
  void request(const std::string& kind) {
    std::lock_guard lock(mu_);
    ++requests_[kind];
  }
  void error(const std::string& kind, const std::string& what) {
    std::lock_guard lock(mu_);
    if (++errors_[kind] <= 10)
      std::fprintf(stderr, "soak: error: %s: %s\n", kind.c_str(), what.c_str());
  }
  void conflict(const std::string& kind) {
    std::lock_guard lock(mu_);
    ++conflicts_[kind];
  }
  static size_t sum(const std::map<std::string, size_t>& counts) {
    size_t total = 0;
    for (const auto& [kind, n] : counts) total += n;
    return total;
  }
  size_t requests() {
    std::lock_guard lock(mu_);
    return sum(requests_);
  }
  size_t errors() {
    std::lock_guard lock(mu_);
    return sum(errors_);
  }
  void print() {
    std::lock_guard lock(mu_);
    bench::table_header({"kind", "requests", "errors", "expected 409"});
    for (const auto& [kind, n] : requests_) {
      bench::table_row({kind, std::to_string(n), std::to_string(errors_[kind]),
                        std::to_string(conflicts_[kind])});
    }
    bench::table_row({"all", std::to_string(sum(requests_)), std::to_string(sum(errors_)),
                      std::to_string(sum(conflicts_))});
  }

 private:
  std::mutex mu_;
  std::map<std::string, size_t> requests_, errors_, conflicts_;
};

Tally g_tally;

// Whether a 409 is the deliberate race of two writers rather than an error.
enum class Race { kNone, kConflictExpected };

// One request counted under `kind`; the reply when its status is one of
// `expected`.
std::optional<httplib::Response> send(httplib::Client& client, const std::string& kind,
                                      const std::string& method, const std::string& path,
                                      std::initializer_list<int> expected,
                                      const std::string& body = "",
                                      const std::string& content_type = "application/json",
                                      Race race = Race::kNone) {
  g_tally.request(kind);
  auto call = [&] {
    if (method == "GET") return client.Get(path);
    if (method == "POST") return client.Post(path, body, content_type);
    if (method == "PUT") return client.Put(path, body, content_type);
    if (method == "PATCH") return client.Patch(path, body, content_type);
    return client.Delete(path);
  };
  httplib::Result result = call();
  if (!result) {
    g_tally.error(kind, method + " " + path + ": " + httplib::to_string(result.error()));
    return std::nullopt;
  }
  if (result->status == 409 && race == Race::kConflictExpected) {
    g_tally.conflict(kind);
    return std::nullopt;
  }
  for (int status : expected) {
    if (result->status == status) return std::move(result.value());
  }
  g_tally.error(kind, method + " " + path + ": HTTP " + std::to_string(result->status) + " " +
                          result->body.substr(0, 300));
  return std::nullopt;
}

std::unique_ptr<httplib::Client> connect(int port) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
  client->set_keep_alive(true);
  client->set_read_timeout(30s);
  client->set_url_encode(false);  // continue tokens are encoded here
  return client;
}

std::string phase_of(const Json& task) {
  return task.value("status", Json::object()).value("phase", "");
}

// What a run Task does, in turn: succeed at once, print, fail and retry.
Json run_task(const std::string& name, size_t variant) {
  Json subprocess;
  Json spec = {{"timeout", "30s"}};
  switch (variant % 3) {
    case 0:
      subprocess = {{"command", "/bin/true"}};
      break;
    case 1:
      subprocess = {{"command", "/bin/echo"}, {"args", {kLogMarker}}};
      break;
    default:
      subprocess = {{"script", {{"runtime", "sh"}, {"body", "echo failing; exit 3"}}}};
      spec["restartPolicy"] = "OnFailure";
      spec["maxRetries"] = 2;
      spec["backoff"] = {{"first", "100ms"}, {"max", "200ms"}};
  }
  spec["subprocess"] = subprocess;
  return {{"apiVersion", "solti.io/v1"},
          {"kind", "Task"},
          {"metadata", {{"name", name}, {"labels", {{"soak/role", "run"}}}}},
          {"spec", spec}};
}

// Long-lived Tasks that the updaters and patchers rewrite; suspended, so
// they never run.
Json pet_task(const std::string& name) {
  return {
      {"apiVersion", "solti.io/v1"},
      {"kind", "Task"},
      {"metadata", {{"name", name}, {"labels", {{"soak/role", "pet"}}}}},
      {"spec", {{"timeout", "1m"}, {"suspend", true}, {"subprocess", {{"command", "/bin/true"}}}}}};
}

struct Load {
  int port;
  Clock::time_point deadline;
  std::vector<std::string> pets;
  std::atomic<size_t> tasks_created{0}, logs_checked{0}, watch_events{0};
  std::mutex finished_mu;
  std::set<std::string> finished;  // run Tasks seen in a terminal phase

  bool running() const { return Clock::now() < deadline; }
};

// Creates run Tasks and deletes the oldest of its own beyond its share of
// --max-live, so that finished, running and terminating Tasks all coexist.
void run_tasks(Load& load, size_t worker, size_t share) {
  auto client = connect(load.port);
  std::deque<std::string> live;
  for (size_t n = 0; load.running(); ++n) {
    const std::string name = "run-" + std::to_string(worker) + "-" + std::to_string(n);
    if (send(*client, "create", "POST", kTasks, {201}, run_task(name, n).dump())) {
      ++load.tasks_created;
      live.push_back(name);
    }
    while (live.size() > share) {
      send(*client, "delete", "DELETE", kTasks + "/" + live.front(), {200, 202});
      live.pop_front();
    }
    std::this_thread::sleep_for(40ms);
  }
}

// GET, then PUT with its resourceVersion. Two of these share the pets, so
// some PUTs lose the race (409, expected), as do those that meet a status
// write of the reconciler.
void update_pets(Load& load, uint64_t seed) {
  auto client = connect(load.port);
  std::mt19937_64 random(seed);
  for (size_t n = 0; load.running(); ++n) {
    const std::string path = kTasks + "/" + load.pets[random() % load.pets.size()];
    auto got = send(*client, "get", "GET", path, {200});
    if (!got) continue;
    Json object = Json::parse(got->body);
    object["metadata"]["labels"]["soak/update"] = std::to_string(n);
    if (n % 5 == 0) object["spec"]["rerunToken"] = std::to_string(n);  // a new generation
    send(*client, "update", "PUT", path, {200}, object.dump(), "application/json",
         Race::kConflictExpected);
    std::this_thread::sleep_for(10ms);
  }
}

void patch_pets(Load& load, uint64_t seed) {
  auto client = connect(load.port);
  std::mt19937_64 random(seed);
  for (size_t n = 0; load.running(); ++n) {
    const std::string path = kTasks + "/" + load.pets[random() % load.pets.size()];
    if (n % 2 == 0) {
      Json patch = {{"metadata", {{"annotations", {{"soak/patch", std::to_string(n)}}}}}};
      send(*client, "merge-patch", "PATCH", path, {200}, patch.dump(),
           "application/merge-patch+json");
    } else {
      Json patch = Json::array({{{"op", "add"},
                                 {"path", "/metadata/labels/soak~1json-patch"},
                                 {"value", std::to_string(n)}}});
      send(*client, "json-patch", "PATCH", path, {200}, patch.dump(),
           "application/json-patch+json");
    }
    std::this_thread::sleep_for(10ms);
  }
}

// Every page of `path`, `limit` items at a time, on one snapshot.
void list_pages(httplib::Client& client, const std::string& kind, const std::string& path,
                size_t limit) {
  std::string next;
  do {
    std::string query = path + "?limit=" + std::to_string(limit);
    if (!next.empty()) query += "&continue=" + httplib::detail::encode_query_param(next);
    auto page = send(client, kind, "GET", query, {200});
    if (!page) return;
    next = Json::parse(page->body)["metadata"].value("continue", "");
  } while (!next.empty());
}

void list(Load& load) {
  auto client = connect(load.port);
  while (load.running()) {
    list_pages(*client, "list-tasks", kTasks, 25);
    list_pages(*client, "list-taskruns", kTaskRuns, 50);
    std::this_thread::sleep_for(100ms);
  }
}

// Watches that the server ends after a few seconds (timeoutSeconds), each
// resumed from the last resourceVersion seen; counts the run Tasks that
// finish.
void watch(Load& load, uint64_t seed) {
  std::mt19937_64 random(seed);
  httplib::Client client("127.0.0.1", load.port);
  client.set_read_timeout(30s);
  std::string last_seen;
  {
    auto listed = send(client, "list-tasks", "GET", kTasks + "?limit=1", {200});
    if (!listed) return;
    last_seen = Json::parse(listed->body)["metadata"].value("resourceVersion", "");
  }
  while (load.running()) {
    const std::string path = kTasks + "?watch=true&allowWatchBookmarks=true&timeoutSeconds=" +
                             std::to_string(2 + random() % 5) + "&resourceVersion=" + last_seen;
    g_tally.request("watch");
    std::string buffer;
    bool bad_event = false;
    auto result = client.Get(path, httplib::Headers{}, [&](const char* data, size_t length) {
      buffer.append(data, length);
      for (size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
        const std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        Json event = Json::parse(line, nullptr, false);
        // An ERROR event, or a Status body when the watch was refused.
        if (!event.is_object() || !event.contains("object") || event["type"] == "ERROR") {
          g_tally.error("watch", "from resourceVersion " + last_seen + ": " + line.substr(0, 300));
          bad_event = true;
          return false;
        }
        const Json& object = event["object"];
        last_seen = object["metadata"].value("resourceVersion", last_seen);
        if (event["type"] == "BOOKMARK") continue;
        ++load.watch_events;
        const std::string phase = phase_of(object);
        if (phase == "Succeeded" || phase == "Exhausted") {
          std::lock_guard lock(load.finished_mu);
          load.finished.insert(object["metadata"].value("name", ""));
        }
      }
      return load.running();
    });
    if (bad_event) {
      // Start again from now rather than repeat the same failure.
      auto listed = send(client, "list-tasks", "GET", kTasks + "?limit=1", {200});
      if (listed) last_seen = Json::parse(listed->body)["metadata"].value("resourceVersion", "");
    } else if (!result && load.running()) {
      g_tally.error("watch", httplib::to_string(result.error()));
    } else if (result && result->status != 200) {
      g_tally.error("watch", "from resourceVersion " + last_seen + ": HTTP " +
                                 std::to_string(result->status) + " " + result->body);
    }
  }
}

// Runs an echo Task, waits for it to succeed, reads its log (plain and
// followed, the attempt ended) and deletes it.
void fetch_logs(Load& load) {
  auto client = connect(load.port);
  for (size_t n = 0; load.running(); ++n) {
    const std::string name = "logs-" + std::to_string(n);
    const std::string path = kTasks + "/" + name;
    Json task = run_task(name, 1);
    task["metadata"]["labels"]["soak/role"] = "logs";
    if (!send(*client, "create", "POST", kTasks, {201}, task.dump())) continue;
    ++load.tasks_created;
    std::string phase;
    for (const auto give_up = Clock::now() + 30s; Clock::now() < give_up;) {
      auto got = send(*client, "get", "GET", path, {200});
      if (!got) break;
      phase = phase_of(Json::parse(got->body));
      if (phase == "Succeeded" || phase == "Exhausted" || phase == "Failed") break;
      std::this_thread::sleep_for(50ms);
    }
    if (phase != "Succeeded") {
      g_tally.error("get", name + " did not succeed within 30 s: phase \"" + phase + "\"");
    } else {
      for (const std::string query : {"/log", "/log?follow=true"}) {
        auto log = send(*client, "log", "GET", path + query, {200});
        if (log && log->body.find(kLogMarker) == std::string::npos)
          g_tally.error("log", name + query + ": \"" + log->body.substr(0, 200) + "\"");
        if (log) ++load.logs_checked;
      }
    }
    send(*client, "delete", "DELETE", path, {200, 202});
    std::this_thread::sleep_for(100ms);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"soak: soltid under mixed load, for errors and RSS growth"};
  std::string soltid_path;
  double minutes = 10, sample_seconds = 5, max_growth_percent = 10;
  size_t max_live = 200, pets = 20;
  app.add_option("--soltid", soltid_path, "The soltid binary")->required();
  app.add_option("--minutes", minutes, "How long the load runs");
  app.add_option("--sample-seconds", sample_seconds, "Seconds between RSS samples");
  app.add_option("--max-live", max_live, "Run Tasks that may exist at once");
  app.add_option("--pets", pets, "Long-lived Tasks the updaters and patchers rewrite");
  app.add_option("--max-growth", max_growth_percent,
                 "Fail when the last minute's mean RSS exceeds minute 2's by this many percent");
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);

  bench::Soltid soltid(soltid_path, {});
  soltid.start();
  std::printf("soak: %.1f minutes against soltid pid %d on port %d, data %s\n", minutes,
              int(soltid.pid()), soltid.port(), soltid.dir().c_str());
  std::fflush(stdout);

  const auto begin = Clock::now();
  Load load;
  load.port = soltid.port();
  load.deadline = begin + std::chrono::milliseconds(int64_t(minutes * 60'000));
  {
    auto client = connect(load.port);
    for (size_t i = 0; i < pets; ++i) {
      load.pets.push_back("pet-" + std::to_string(i));
      send(*client, "create", "POST", kTasks, {201}, pet_task(load.pets.back()).dump());
    }
  }

  std::vector<std::thread> threads;
  constexpr size_t kRunWorkers = 2;
  for (size_t i = 0; i < kRunWorkers; ++i)
    threads.emplace_back(run_tasks, std::ref(load), i, max_live / kRunWorkers);
  for (uint64_t i = 0; i < 2; ++i) threads.emplace_back(update_pets, std::ref(load), i);
  threads.emplace_back(patch_pets, std::ref(load), 7);
  threads.emplace_back(list, std::ref(load));
  for (uint64_t i = 0; i < 2; ++i) threads.emplace_back(watch, std::ref(load), 11 + i);
  threads.emplace_back(fetch_logs, std::ref(load));

  // RSS samples. The baseline is their mean over minute 2 (start-up and the
  // first Tasks have settled by then), the end their mean over the last
  // minute: single samples swing by the memtables' fill, up to 20 MB.
  std::vector<std::pair<double, double>> samples;  // (seconds, MB)
  int last_minute_printed = 0;
  while (load.running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(int64_t(sample_seconds * 1000)));
    const double at = bench::seconds_since(begin), rss = bench::rss_mb(soltid.pid());
    samples.emplace_back(at, rss);
    if (int(at / 60) > last_minute_printed) {
      last_minute_printed = int(at / 60);
      std::printf("minute %d: RSS %.1f MB, %zu requests, %zu errors, %zu Tasks created; %s\n",
                  last_minute_printed, rss, g_tally.requests(), g_tally.errors(),
                  load.tasks_created.load(), bench::store_memory(load.port).c_str());
      std::fflush(stdout);
    }
  }
  for (auto& t : threads) t.join();
  soltid.stop();
  auto mean_rss = [&](double from, double to) {
    double sum = 0, peak = 0;
    size_t count = 0;
    for (auto [at, rss] : samples) {
      if (at < from || at >= to) continue;
      sum += rss;
      peak = std::max(peak, rss);
      ++count;
    }
    return std::pair{count ? sum / double(count) : 0.0, peak};
  };
  const double total_seconds = bench::seconds_since(begin);
  const auto [baseline, baseline_peak] = mean_rss(60, 120);
  const auto [end_rss, end_peak] = mean_rss(total_seconds - 60, total_seconds + 1);

  std::printf("\n");
  g_tally.print();
  size_t finished = 0;
  {
    std::lock_guard lock(load.finished_mu);
    finished = load.finished.size();
  }
  const double growth = baseline > 0 ? (end_rss - baseline) / baseline * 100 : 0;
  std::printf(
      "\nsoak: %.1f min, %zu requests, %zu errors, %zu Tasks created, %zu seen finished, %zu "
      "logs checked, %zu watch events; mean RSS %.1f MB over minute 2 (peak %.1f), %.1f MB over "
      "the last minute (peak %.1f): %+.1f%%\n",
      total_seconds / 60, g_tally.requests(), g_tally.errors(), load.tasks_created.load(), finished,
      load.logs_checked.load(), load.watch_events.load(), baseline, baseline_peak, end_rss,
      end_peak, growth);
  const bool ok = g_tally.errors() == 0 && growth < max_growth_percent;
  if (!ok) std::printf("soak: FAILED\n");
  return ok ? 0 : 1;
}
