// crash_storm: crash safety of soltid end to end (DESIGN §5, §7).
//
// Each cycle runs soltid on one data directory under a storm of creates,
// updates (PUT with resourceVersion) and merge patches of Tasks from many
// kept-alive clients, with a watcher streaming every event, then kill -9s
// it at a random moment and starts it again. After each restart it checks:
//  - every acknowledged write is present: the object holds its last acked
//    resourceVersion or a later one, and the acked content (an annotation
//    counter) or that of the one write that was in flight without a reply;
//    no object exists that no write created;
//  - the revision never goes backwards: the list's resourceVersion is at
//    least every revision seen before the kill, and each client's acks rise;
//  - the watcher, resumed from its last seen resourceVersion, sees every
//    later event exactly once, in increasing order, every acked write among
//    them;
//  - no Task is Running without a process: a few Tasks run `sleep`; once the
//    restart settles, every Running Task has exactly one live process that
//    is a child of the current soltid, and no process of an earlier
//    incarnation is left.
// At the end soltid stops gracefully and no Task process may remain.
// Prints a line per cycle and a summary; exits 1 on any violation.
//
// Usage: crash_storm --soltid PATH [--cycles 20] [--clients 32] [--seed N]
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "bench/bench_util.h"

namespace {

using Json = nlohmann::json;
using bench::Clock;
using namespace std::chrono_literals;

const std::string kNamespace = "crash-storm";
const std::string kTasks = "/apis/solti.io/v1/namespaces/" + kNamespace + "/tasks";
// Written only by the client that owns the Task: +1 on every write, so the
// stored value tells which of that client's writes the object holds.
const std::string kCounterAnnotation = "crash-storm/counter";
// In the environment of every Task process, to find it in /proc.
const std::string kTaskEnv = "CRASH_STORM_TASK";
const std::string kInstanceEnv = "SOLTI_INSTANCE";  // set by soltid's runners

// Set just before the kill: transport errors after it are expected.
std::atomic<bool> g_killing{false};

class Violations {
 public:
  void add(const std::string& what) {
    std::lock_guard lock(mu_);
    if (++count_ <= 50) std::fprintf(stderr, "VIOLATION: %s\n", what.c_str());
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  size_t count_ = 0;
};
Violations g_violations;

uint64_t resource_version(const Json& object) {
  return std::stoull(object.at("metadata").at("resourceVersion").get<std::string>());
}

// The counter annotation; -1 when there is none.
int64_t counter_of(const Json& object) {
  const Json annotations = object.at("metadata").value("annotations", Json::object());
  return std::stoll(annotations.value(kCounterAnnotation, "-1"));
}

std::string phase_of(const Json& task) {
  return task.value("status", Json::object()).value("phase", "");
}

std::unique_ptr<httplib::Client> connect(int port) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  client->set_read_timeout(30s);
  return client;
}

// A transport error is expected once the kill has begun, a violation
// before: soltid dropped or hung a request while it was alive.
void transport_error(const std::string& what, httplib::Error error) {
  if (!g_killing) g_violations.add(what + ": " + httplib::to_string(error) + " before the kill");
}

// The last acknowledged write of one Task.
struct Acked {
  uint64_t resource_version = 0;
  int64_t counter = 0;
};

// A write sent without a reply yet: after a kill, it may or may not be there.
struct InFlight {
  std::string name;
  int64_t counter = 0;
};

// A committed write: acknowledged, or found in the store after a restart.
struct Write {
  uint64_t resource_version;
  std::string name;
};

// One storm client: owns the Tasks it creates and is their only writer of
// the counter annotation.
class StormClient {
 public:
  StormClient(size_t index, size_t max_tasks, uint64_t seed)
      : index_(index), max_tasks_(max_tasks), random_(seed) {}

  // Writes until `stop`, or until soltid is gone (no reply).
  void run(int port, const std::atomic<bool>& stop) {
    auto client = connect(port);
    while (!stop && !in_flight_) {
      const bool create = tasks_.size() < max_tasks_ && (tasks_.empty() || random_() % 4 == 0);
      if (create) {
        this->create(*client);
      } else {
        auto it = tasks_.begin();
        std::advance(it, random_() % tasks_.size());
        if (random_() % 2 == 0) {
          update(*client, it->first);
        } else {
          patch(*client, it->first);
        }
      }
    }
  }

  // The stored Tasks after a restart: checks them against the acks, then
  // takes them as the truth of the next cycle. Returns the names it owns.
  std::set<std::string> check_and_adopt(const std::map<std::string, Json>& stored) {
    std::set<std::string> mine;
    for (auto& [name, object] : tasks_) {
      const Acked& acked = acked_[name];
      auto found = stored.find(name);
      if (found == stored.end()) {
        g_violations.add(name + ": acknowledged at resourceVersion " +
                         std::to_string(acked.resource_version) + " but missing after restart");
        continue;
      }
      check_one(name, acked, found->second);
      object = found->second;
      mine.insert(name);
    }
    if (in_flight_ && !tasks_.count(in_flight_->name)) {
      // A create without a reply: there or not, both are right.
      if (auto found = stored.find(in_flight_->name); found != stored.end()) {
        if (counter_of(found->second) != 0)
          g_violations.add(in_flight_->name + ": unacknowledged create holds counter " +
                           std::to_string(counter_of(found->second)));
        tasks_[in_flight_->name] = found->second;
        mine.insert(in_flight_->name);
      }
    }
    for (const auto& [name, object] : tasks_)
      acked_[name] = {resource_version(object), counter_of(object)};
    in_flight_.reset();
    return mine;
  }

  // Acks of the last cycle, for the watch check; clears them.
  std::vector<Write> take_acked_writes() { return std::exchange(acked_writes_, {}); }

  uint64_t last_acked_revision() const { return last_revision_; }
  bool in_flight() const { return in_flight_.has_value(); }
  size_t creates = 0, updates = 0, patches = 0, conflicts = 0, patch_conflicts = 0;

 private:
  void check_one(const std::string& name, const Acked& acked, const Json& object) {
    const uint64_t stored_rv = resource_version(object);
    const int64_t stored_counter = counter_of(object);
    const bool in_flight_here = in_flight_ && in_flight_->name == name;
    if (stored_rv < acked.resource_version) {
      g_violations.add(name + ": resourceVersion went back from acknowledged " +
                       std::to_string(acked.resource_version) + " to " + std::to_string(stored_rv));
    }
    if (stored_counter != acked.counter &&
        !(in_flight_here && stored_counter == in_flight_->counter)) {
      g_violations.add(name + ": holds counter " + std::to_string(stored_counter) +
                       ", acknowledged " + std::to_string(acked.counter) +
                       (in_flight_here ? " (in flight " + std::to_string(in_flight_->counter) + ")"
                                       : std::string()));
    }
    if (stored_rv == acked.resource_version && stored_counter != acked.counter) {
      g_violations.add(name + ": same resourceVersion " + std::to_string(stored_rv) +
                       " with other content than acknowledged");
    }
  }

  std::string new_name() {
    return "c" + std::to_string(index_) + "-" + std::to_string(next_name_++);
  }

  void create(httplib::Client& client) {
    const std::string name = new_name();
    Json task = {
        {"apiVersion", "solti.io/v1"},
        {"kind", "Task"},
        {"metadata",
         {{"name", name},
          {"labels", {{"crash-storm/client", std::to_string(index_)}}},
          {"annotations", {{kCounterAnnotation, "0"}}}}},
        // Suspended: the reconciler writes its finalizer and status
        // (racing the clients' PUTs) but runs nothing.
        {"spec",
         {{"timeout", "1m"}, {"suspend", true}, {"subprocess", {{"command", "/bin/true"}}}}}};
    in_flight_ = InFlight{name, 0};
    auto reply = client.Post(kTasks, task.dump(), "application/json");
    if (!reply) return transport_error("POST " + name, reply.error());
    in_flight_.reset();
    if (reply->status != 201) {
      g_violations.add("POST " + name + ": HTTP " + std::to_string(reply->status) + " " +
                       reply->body);
      return;
    }
    ++creates;
    acknowledge(name, Json::parse(reply->body));
  }

  // PUT of the last known object with one more count and a new rerunToken
  // (a spec change: a new generation the reconciler writes status for).
  void update(httplib::Client& client, const std::string& name) {
    Json object = tasks_[name];
    const int64_t counter = acked_[name].counter + 1;
    object["metadata"]["annotations"][kCounterAnnotation] = std::to_string(counter);
    object["spec"]["rerunToken"] = std::to_string(counter);
    in_flight_ = InFlight{name, counter};
    auto reply = client.Put(kTasks + "/" + name, object.dump(), "application/json");
    if (!reply) return transport_error("PUT " + name, reply.error());
    in_flight_.reset();
    if (reply->status == 409) {
      // The reconciler wrote since: nothing was written; read it again.
      ++conflicts;
      auto fresh = client.Get(kTasks + "/" + name);
      if (!fresh) return transport_error("GET " + name, fresh.error());
      if (fresh->status != 200) {
        g_violations.add("GET " + name + ": HTTP " + std::to_string(fresh->status));
        return;
      }
      tasks_[name] = Json::parse(fresh->body);
      return;
    }
    if (reply->status != 200) {
      g_violations.add("PUT " + name + ": HTTP " + std::to_string(reply->status) + " " +
                       reply->body);
      return;
    }
    ++updates;
    acknowledge(name, Json::parse(reply->body));
  }

  void patch(httplib::Client& client, const std::string& name) {
    const int64_t counter = acked_[name].counter + 1;
    Json patch = {{"metadata", {{"annotations", {{kCounterAnnotation, std::to_string(counter)}}}}}};
    in_flight_ = InFlight{name, counter};
    auto reply = client.Patch(kTasks + "/" + name, patch.dump(), "application/merge-patch+json");
    if (!reply) return transport_error("PATCH " + name, reply.error());
    in_flight_.reset();
    if (reply->status == 409) {
      // A patch names no resourceVersion and should never conflict, but
      // soltid gives up after 1000 retries while another write of the
      // object waits for its fsync (Registry::write_update re-reads the
      // durable state, the CAS checks the pending one). Not written, so
      // not a crash-safety matter: counted and reported apart.
      ++patch_conflicts;
      return;
    }
    if (reply->status != 200) {
      g_violations.add("PATCH " + name + ": HTTP " + std::to_string(reply->status) + " " +
                       reply->body);
      return;
    }
    ++patches;
    acknowledge(name, Json::parse(reply->body));
  }

  void acknowledge(const std::string& name, Json object) {
    const uint64_t rv = resource_version(object);
    const int64_t counter = counter_of(object);
    if (counter != (acked_.count(name) ? acked_[name].counter + 1 : 0))
      g_violations.add(name + ": reply holds counter " + std::to_string(counter));
    // One client's writes are sequential, so each commits after the last.
    if (rv <= last_revision_) {
      g_violations.add(name + ": acknowledged resourceVersion " + std::to_string(rv) +
                       " after this client's " + std::to_string(last_revision_));
    }
    last_revision_ = std::max(last_revision_, rv);
    acked_[name] = {rv, counter};
    tasks_[name] = std::move(object);
    acked_writes_.push_back({rv, name});
  }

  size_t index_;
  size_t max_tasks_;
  std::mt19937_64 random_;
  size_t next_name_ = 0;
  std::map<std::string, Json> tasks_;  // last known object of each Task this client made
  std::map<std::string, Acked> acked_;
  std::optional<InFlight> in_flight_;
  std::vector<Write> acked_writes_;
  uint64_t last_revision_ = 0;
};

// Streams the namespace's Task events from the last seen resourceVersion,
// reconnecting from there whenever a stream ends, and checks the order.
class Watcher {
 public:
  explicit Watcher(uint64_t origin) : origin_(origin), last_seen_(origin) {}

  void start(int port) {
    stop_ = false;
    thread_ = std::thread([this, port] { run(port); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  uint64_t origin() const { return origin_; }
  uint64_t last_seen() {
    std::lock_guard lock(mu_);
    return last_seen_;
  }
  size_t events() {
    std::lock_guard lock(mu_);
    return seen_.size();
  }

  // Waits until the stream has passed `revision`; false at the deadline.
  bool wait_for(uint64_t revision, Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    while (last_seen() < revision) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  // Every committed write above the origin came as an event of its Task.
  size_t check_events_seen(const std::vector<Write>& writes) {
    std::lock_guard lock(mu_);
    size_t checked = 0;
    for (const auto& write : writes) {
      if (write.resource_version <= origin_) continue;
      ++checked;
      auto it = seen_.find(write.resource_version);
      if (it == seen_.end()) {
        g_violations.add("watch: no event for the write of " + write.name + " at resourceVersion " +
                         std::to_string(write.resource_version));
      } else if (it->second != write.name) {
        g_violations.add("watch: resourceVersion " + std::to_string(write.resource_version) +
                         " came as " + it->second + ", written to " + write.name);
      }
    }
    return checked;
  }

 private:
  void run(int port) {
    while (!stop_ && !failed_) {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(30s);
      std::string buffer;
      const std::string path = kTasks + "?watch=true&allowWatchBookmarks=true&resourceVersion=" +
                               std::to_string(last_seen());
      auto result = client.Get(path, httplib::Headers{}, [&](const char* data, size_t length) {
        buffer.append(data, length);
        for (size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
          take(buffer.substr(0, nl));
          buffer.erase(0, nl + 1);
        }
        return !stop_ && !failed_;
      });
      if (!result && !stop_ && !failed_) {
        transport_error("watch", result.error());
        std::this_thread::sleep_for(50ms);  // soltid is down until the next start
      } else if (result && result->status != 200) {
        g_violations.add("watch: HTTP " + std::to_string(result->status) + " " + result->body);
        failed_ = true;
      }
    }
  }

  void take(const std::string& line) {
    const Json event = Json::parse(line, nullptr, false);
    if (!event.is_object() || !event.contains("object")) {
      g_violations.add("watch: not an event: " + line.substr(0, 300));
      failed_ = true;
      return;
    }
    const std::string type = event.value("type", "");
    if (type == "ERROR") {
      g_violations.add("watch from " + std::to_string(last_seen()) +
                       ": ERROR event: " + event["object"].dump());
      failed_ = true;
      return;
    }
    const uint64_t rv = resource_version(event["object"]);
    std::lock_guard lock(mu_);
    if (type == "BOOKMARK") {
      if (rv < last_seen_)
        g_violations.add("watch: BOOKMARK at " + std::to_string(rv) + " after " +
                         std::to_string(last_seen_));
      last_seen_ = std::max(last_seen_, rv);
      return;
    }
    const std::string name = event["object"].at("metadata").value("name", "");
    if (rv <= last_seen_) {
      g_violations.add("watch: " + type + " " + name + " at resourceVersion " + std::to_string(rv) +
                       " after " + std::to_string(last_seen_) +
                       (seen_.count(rv) ? " (a duplicate)" : " (out of order)"));
      return;
    }
    last_seen_ = rv;
    seen_[rv] = name;
    // The counter of one Task never goes back along its events.
    const int64_t now = counter_of(event["object"]);
    int64_t& counter = counters_.try_emplace(name, now).first->second;
    if (now < counter)
      g_violations.add("watch: " + name + " counter went back from " + std::to_string(counter) +
                       " to " + std::to_string(now) + " at " + std::to_string(rv));
    counter = std::max(counter, now);
  }

  const uint64_t origin_;
  std::atomic<bool> stop_{false}, failed_{false};
  std::thread thread_;
  std::mutex mu_;
  uint64_t last_seen_;
  std::unordered_map<uint64_t, std::string> seen_;  // resourceVersion → Task name
  std::unordered_map<std::string, int64_t> counters_;
};

// --- Tasks that run processes ---------------------------------------------------

Json sleeper_task(const std::string& name, const std::string& restart_policy) {
  return {{"apiVersion", "solti.io/v1"},
          {"kind", "Task"},
          {"metadata", {{"name", name}, {"labels", {{"crash-storm/role", "sleeper"}}}}},
          {"spec",
           {{"timeout", "10m"},
            {"restartPolicy", restart_policy},
            // Retried 100 ms after a restart marks the attempt AgentRestarted.
            {"backoff", {{"first", "100ms"}, {"max", "100ms"}, {"factor", 1}, {"jitter", "None"}}},
            {"terminationGracePeriod", "1s"},
            {"subprocess",
             {{"command", "/bin/sleep"},
              {"args", {"300"}},
              {"env", {{{"name", kTaskEnv}, {"value", name}}}}}}}}};
}

// A process that carries this soltid's instance id.
struct TaskProcess {
  pid_t pid;
  pid_t parent;
  std::string task;  // its kTaskEnv value
};

std::vector<TaskProcess> task_processes(const std::string& instance) {
  std::vector<TaskProcess> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream environ_file(entry.path() / "environ", std::ios::binary);
    std::map<std::string, std::string> env;
    for (std::string var; std::getline(environ_file, var, '\0');) {
      if (size_t eq = var.find('='); eq != std::string::npos)
        env[var.substr(0, eq)] = var.substr(eq + 1);
    }
    if (env[kInstanceEnv] != instance) continue;
    // /proc/PID/stat: "pid (comm) state ppid ...", comm may hold spaces.
    std::ifstream stat_file(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;  // gone meanwhile
    char state = 0;
    int parent = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &parent) != 2 || state == 'Z')
      continue;
    found.push_back({pid_t(std::stoi(pid)), pid_t(parent), env[kTaskEnv]});
  }
  return found;
}

// What is wrong between the Tasks' phases and the processes; empty when
// every Running Task has exactly one process, a child of `soltid`, and
// every Task process belongs to a Running Task.
std::vector<std::string> process_problems(const std::map<std::string, Json>& tasks,
                                          const std::vector<TaskProcess>& processes, pid_t soltid) {
  std::vector<std::string> problems;
  std::map<std::string, int> processes_of;
  for (const auto& p : processes) {
    ++processes_of[p.task];
    auto task = tasks.find(p.task);
    const bool running = task != tasks.end() && phase_of(task->second) == "Running";
    if (p.parent != soltid)
      problems.push_back("pid " + std::to_string(p.pid) + " of Task " + p.task +
                         " is left from an earlier soltid (parent " + std::to_string(p.parent) +
                         ")");
    if (!running)
      problems.push_back("pid " + std::to_string(p.pid) + " of " + p.task + ", a Task not Running");
  }
  for (const auto& [name, task] : tasks) {
    if (phase_of(task) != "Running") continue;
    if (processes_of[name] != 1)
      problems.push_back(name + " is Running with " + std::to_string(processes_of[name]) +
                         " processes");
  }
  return problems;
}

// --- one soltid incarnation ------------------------------------------------------

// GET the namespace's Tasks: name → object, and the list's resourceVersion.
std::optional<std::pair<std::map<std::string, Json>, uint64_t>> list_tasks(
    httplib::Client& client, const std::string& query = "") {
  auto reply = client.Get(kTasks + query);
  if (!reply || reply->status != 200) {
    g_violations.add("list: " + (reply ? "HTTP " + std::to_string(reply->status)
                                       : httplib::to_string(reply.error())));
    return std::nullopt;
  }
  Json list = Json::parse(reply->body);
  std::map<std::string, Json> tasks;
  for (auto& item : list["items"]) {
    const std::string name = item["metadata"]["name"];
    tasks[name] = std::move(item);
  }
  return std::make_pair(std::move(tasks), resource_version(list));
}

struct Run {
  std::string soltid;
  std::string dir;
  std::vector<std::string> flags;
  std::string instance;  // soltid's instance id, read after the first start
  std::vector<std::string> persistent_sleepers;
  std::vector<Write> sleeper_writes;
  uint64_t max_revision_seen = 0;  // acks, events and lists before the last kill
};

bool create_sleeper(httplib::Client& client, Run& run, const std::string& name,
                    const std::string& restart_policy) {
  auto reply = client.Post(kTasks, sleeper_task(name, restart_policy).dump(), "application/json");
  if (!reply || reply->status != 201) {
    g_violations.add("POST " + name + ": " +
                     (reply ? "HTTP " + std::to_string(reply->status) + " " + reply->body
                            : httplib::to_string(reply.error())));
    return false;
  }
  run.sleeper_writes.push_back({resource_version(Json::parse(reply->body)), name});
  return true;
}

// Waits until the Running Tasks and the Task processes agree; reports the
// problems still there after the deadline. Returns the Running Tasks checked.
size_t settle_processes(httplib::Client& client, const Run& run, pid_t soltid) {
  const auto deadline = Clock::now() + 30s;
  std::vector<std::string> problems;
  while (true) {
    auto listed = list_tasks(client, "?fieldSelector=status.phase%3DRunning");
    if (!listed) return 0;
    const auto& running = listed->first;
    problems = process_problems(running, task_processes(run.instance), soltid);
    // The OnFailure sleepers run again after every restart: until they
    // do, the check would pass without checking anything.
    for (const auto& name : run.persistent_sleepers) {
      if (!running.count(name)) problems.push_back(name + " is not Running again");
    }
    if (problems.empty()) return running.size();
    if (Clock::now() > deadline) break;
    std::this_thread::sleep_for(100ms);
  }
  for (const auto& p : problems) g_violations.add("processes after 30 s: " + p);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"crash_storm: kill -9 soltid under a write storm and check what survives"};
  std::string soltid_path;
  size_t cycles = 20, clients = 32, tasks_per_client = 100;
  uint64_t seed = std::random_device{}();
  int min_kill_ms = 200, max_kill_ms = 1500;
  app.add_option("--soltid", soltid_path, "The soltid binary")->required();
  app.add_option("--cycles", cycles, "kill -9 and restart this many times");
  app.add_option("--clients", clients, "Concurrent writers, one kept-alive connection each");
  app.add_option("--tasks-per-client", tasks_per_client,
                 "Each client creates Tasks up to this many, then only updates");
  app.add_option("--seed", seed, "Seeds the kill delays and the clients' choices");
  app.add_option("--min-kill-ms", min_kill_ms, "Shortest storm before the kill");
  app.add_option("--max-kill-ms", max_kill_ms, "Longest storm before the kill");
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);

  std::string pattern = (std::filesystem::temp_directory_path() / "crash-storm-XXXXXX").string();
  Run run;
  run.soltid = soltid_path;
  run.dir = mkdtemp(pattern.data());
  // Bookmarks keep the watch stream moving so that the watcher notices a stop.
  run.flags = {"--watch-bookmark-interval", "0.5", "--shutdown-grace-period", "5"};
  std::printf("crash_storm: %zu cycles, %zu clients, seed %llu, data %s\n", cycles, clients,
              (unsigned long long)seed, run.dir.c_str());
  std::fflush(stdout);
  std::mt19937_64 random(seed);
  const auto begin = Clock::now();

  auto soltid = std::make_unique<bench::Soltid>(run.soltid, run.flags, run.dir);
  soltid->start();
  std::ifstream(run.dir + "/data/instance-id") >> run.instance;
  uint64_t first_revision = 0;
  std::unique_ptr<Watcher> watcher;
  {
    auto client = connect(soltid->port());
    for (int i = 0; i < 4; ++i) {
      run.persistent_sleepers.push_back("sleeper-" + std::to_string(i));
      create_sleeper(*client, run, run.persistent_sleepers.back(), "OnFailure");
    }
    auto listed = list_tasks(*client);
    if (!listed) return 1;
    first_revision = listed->second;
    watcher = std::make_unique<Watcher>(first_revision);
  }
  watcher->start(soltid->port());

  std::vector<std::unique_ptr<StormClient>> storm;
  for (size_t i = 0; i < clients; ++i)
    storm.push_back(std::make_unique<StormClient>(i, tasks_per_client, random()));

  size_t total_acked = 0, total_events_checked = 0;
  uint64_t last_revision = first_revision;
  for (size_t cycle = 1; cycle <= cycles; ++cycle) {
    const auto cycle_begin = Clock::now();
    const uint64_t cycle_first_revision = last_revision;
    {
      // A one-shot sleeper per cycle: Running at the kill, so the restart
      // must end it (AgentRestarted) rather than leave it Running.
      auto client = connect(soltid->port());
      create_sleeper(*client, run, "once-" + std::to_string(cycle), "Never");
    }
    const int kill_after_ms =
        min_kill_ms + int(random() % uint64_t(std::max(1, max_kill_ms - min_kill_ms + 1)));
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    size_t acked_before = 0;
    for (auto& c : storm) acked_before += c->creates + c->updates + c->patches;
    for (auto& c : storm)
      threads.emplace_back([&, port = soltid->port(), c = c.get()] { c->run(port, stop); });
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
    g_killing = true;
    soltid->stop(SIGKILL);
    stop = true;
    for (auto& t : threads) t.join();
    watcher->stop();

    // Everything any client saw acknowledged before the kill.
    std::vector<Write> acked = std::exchange(run.sleeper_writes, {});
    size_t acked_now = 0, in_flight = 0;
    for (auto& c : storm) {
      auto writes = c->take_acked_writes();
      acked.insert(acked.end(), writes.begin(), writes.end());
      acked_now += c->creates + c->updates + c->patches;
      run.max_revision_seen = std::max(run.max_revision_seen, c->last_acked_revision());
    }
    run.max_revision_seen = std::max(run.max_revision_seen, watcher->last_seen());

    const auto restart_begin = Clock::now();
    soltid = std::make_unique<bench::Soltid>(run.soltid, run.flags, run.dir);
    soltid->start();
    const double restart_seconds = bench::seconds_since(restart_begin);
    g_killing = false;
    watcher->start(soltid->port());
    auto client = connect(soltid->port());

    auto listed = list_tasks(*client);
    if (!listed) break;
    auto& [stored, list_revision] = *listed;
    if (list_revision < run.max_revision_seen) {
      g_violations.add("the revision went back: list at " + std::to_string(list_revision) +
                       " after " + std::to_string(run.max_revision_seen) + " was seen");
    }
    std::set<std::string> known;
    for (auto& c : storm) {
      in_flight += c->in_flight();
      auto mine = c->check_and_adopt(stored);
      known.insert(mine.begin(), mine.end());
    }
    for (const auto& [name, object] : stored) {
      if (known.count(name) ||
          object.at("metadata").value("labels", Json::object()).contains("crash-storm/role"))
        continue;
      g_violations.add(name + ": stored, but no write created it");
    }

    // The acked writes and the versions found stored (the reconciler's
    // writes and unanswered ones among them) must all come as events.
    std::vector<Write> committed = std::move(acked);
    uint64_t last_committed = 0;
    for (const auto& [name, object] : stored) committed.push_back({resource_version(object), name});
    std::sort(committed.begin(), committed.end(), [](const Write& a, const Write& b) {
      return std::tie(a.resource_version, a.name) < std::tie(b.resource_version, b.name);
    });
    committed.erase(std::unique(committed.begin(), committed.end(),
                                [](const Write& a, const Write& b) {
                                  return a.resource_version == b.resource_version &&
                                         a.name == b.name;
                                }),
                    committed.end());
    for (const auto& w : committed) last_committed = std::max(last_committed, w.resource_version);
    if (!watcher->wait_for(last_committed, 20s)) {
      g_violations.add("watch: resumed stream did not reach resourceVersion " +
                       std::to_string(last_committed) + " in 20 s (at " +
                       std::to_string(watcher->last_seen()) + ")");
    }
    const size_t events_checked = watcher->check_events_seen(committed);
    const size_t running = settle_processes(*client, run, soltid->pid());
    last_revision = std::max(list_revision, watcher->last_seen());
    run.max_revision_seen = std::max(run.max_revision_seen, last_revision);

    total_acked += acked_now - acked_before;
    total_events_checked += events_checked;
    std::printf(
        "cycle %zu: kill after %d ms, %zu acked writes (%zu unanswered at the kill), %zu writes "
        "checked in the watch, revisions %llu..%llu, %zu Tasks stored, restart %.2f s, %zu Running "
        "with "
        "a live process, %.1f s\n",
        cycle, kill_after_ms, acked_now - acked_before, in_flight, events_checked,
        (unsigned long long)cycle_first_revision, (unsigned long long)list_revision, stored.size(),
        restart_seconds, running, bench::seconds_since(cycle_begin));
    std::fflush(stdout);
  }

  watcher->stop();
  const pid_t last_pid = soltid->pid();
  soltid->stop(SIGTERM);
  // SIGTERM cancels the attempts; nothing of theirs may outlive soltid
  // (a moment is left for the kernel to finish what was killed).
  auto left = task_processes(run.instance);
  for (int i = 0; i < 20 && !left.empty(); ++i) {
    std::this_thread::sleep_for(100ms);
    left = task_processes(run.instance);
  }
  for (const auto& p : left)
    g_violations.add("pid " + std::to_string(p.pid) + " of Task " + p.task + " outlived soltid " +
                     std::to_string(last_pid));

  size_t creates = 0, updates = 0, patches = 0, conflicts = 0, patch_conflicts = 0;
  for (auto& c : storm) {
    creates += c->creates;
    updates += c->updates;
    patches += c->patches;
    conflicts += c->conflicts;
    patch_conflicts += c->patch_conflicts;
  }
  if (patch_conflicts > 0)
    std::printf("crash_storm: %zu merge patches were answered 409 (not a crash-safety violation)\n",
                patch_conflicts);
  const size_t violations = g_violations.count();
  std::printf(
      "crash_storm: %zu cycles, %zu clients, %zu acked writes (%zu creates, %zu updates, %zu "
      "patches; %zu update conflicts), %zu watch events, %zu committed writes checked among "
      "them, revisions %llu..%llu, %.1f s, %zu violations\n",
      cycles, clients, total_acked, creates, updates, patches, conflicts, watcher->events(),
      total_events_checked, (unsigned long long)first_revision, (unsigned long long)last_revision,
      bench::seconds_since(begin), violations);
  if (violations == 0) {
    std::filesystem::remove_all(run.dir);
  } else {
    std::printf("crash_storm: data kept in %s\n", run.dir.c_str());
  }
  return violations == 0 ? 0 : 1;
}
