// What the integration tests that run Tasks share: a real soltid with a
// client, creating Tasks, polling their status through the API, and
// checking processes by pid. Scripts write their pids to files in a work
// dir so the tests can check that nothing outlives its Task.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "tests/integration/soltid_process.h"

namespace solti::testing {

using Clock = std::chrono::steady_clock;

constexpr const char* kTasks = "/apis/solti.io/v1/namespaces/default/tasks";
constexpr const char* kRuns = "/apis/solti.io/v1/namespaces/default/taskruns";

inline std::string make_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "solti-work-XXXXXX").string();
  return mkdtemp(pattern.data());
}

// True while `pid` exists and is not a zombie.
inline bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

inline Json status_of(const Json& task) { return task.value("status", Json::object()); }

inline int64_t millis_between(const Json& from, const Json& to) {
  auto a = parse_rfc3339(from.get<std::string>()), b = parse_rfc3339(to.get<std::string>());
  return (*b - *a).count();
}

// A started soltid (extra arguments from the constructor) and the calls
// the tests make to it.
class TaskTest : public ::testing::Test {
 protected:
  explicit TaskTest(std::vector<std::string> args = {}) : soltid_(std::move(args)) {}
  void SetUp() override {
    soltid_.start();
    client_ = soltid_.client();
  }
  void TearDown() override { std::filesystem::remove_all(work_); }

  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& type = "application/json") {
    return testing::call(*client_, method, path, body, type);
  }

  // A Task named `name` in the default namespace with this spec.
  void create(const std::string& name, const Json& spec) {
    Json task = {{"apiVersion", "solti.io/v1"},
                 {"kind", "Task"},
                 {"metadata", {{"name", name}}},
                 {"spec", spec}};
    Reply r = call("POST", kTasks, task.dump());
    ASSERT_EQ(r.status, 201) << r.text;
  }

  // A bash script task run in the work dir; `spec` adds or overrides spec fields.
  void create_script(const std::string& name, const std::string& body, Json spec = Json::object()) {
    Json full = {
        {"timeout", "60s"},
        {"subprocess", {{"script", {{"runtime", "bash"}, {"body", body}}}, {"cwd", work_}}}};
    full.update(spec);
    create(name, full);
  }

  Json get(const std::string& name) { return call("GET", std::string(kTasks) + "/" + name).body; }

  void patch_spec(const std::string& name, const Json& spec) {
    Reply r = call("PATCH", std::string(kTasks) + "/" + name, Json{{"spec", spec}}.dump(),
                   "application/merge-patch+json");
    ASSERT_EQ(r.status, 200) << r.text;
  }

  // Polls the Task until `done` holds (or 30 s pass); returns its last state.
  Json wait_for(const std::string& name, const std::function<bool(const Json&)>& done,
                const std::string& what) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    Json task;
    while (Clock::now() < deadline) {
      task = get(name);
      if (done(task)) return task;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << name << " never became " << what << "; last: " << task.dump();
    return task;
  }

  Json wait_phase(const std::string& name, const std::string& phase, int64_t attempt = 0) {
    return wait_for(
        name,
        [&](const Json& t) {
          const Json status = status_of(t);
          return status.value("phase", "") == phase &&
                 (attempt == 0 || status.value("attempt", int64_t{0}) == attempt);
        },
        phase);
  }

  // The pid a script wrote to `file` in the work dir.
  pid_t read_pid(const std::string& file) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      std::ifstream in(work_ + "/" + file);
      pid_t pid = 0;
      if (in >> pid && pid > 0) return pid;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "no pid in " << file;
    return -1;
  }

  bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (alive(pid) && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return !alive(pid);
  }

  // The Task's TaskRuns, by attempt.
  std::vector<Json> runs(const std::string& task) {
    Reply r = call("GET", std::string(kRuns) + "?labelSelector=solti.io/task%3D" + task);
    std::vector<Json> items(r.body["items"].begin(), r.body["items"].end());
    std::sort(items.begin(), items.end(), [](const Json& a, const Json& b) {
      return a["spec"]["attempt"].get<int>() < b["spec"]["attempt"].get<int>();
    });
    return items;
  }

  static std::string phase(const Json& task) { return status_of(task).value("phase", ""); }
  static std::string reason(const Json& task) { return status_of(task).value("reason", ""); }

  SoltidProcess soltid_;
  std::unique_ptr<httplib::Client> client_;
  std::string work_ = make_dir();
};

}  // namespace solti::testing
