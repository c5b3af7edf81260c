// Runner faults end to end: Tasks that misbehave (ignore SIGTERM, daemonize,
// flood their log, close their stdio and run on, name no real command) run
// by a real soltid, driven and observed through the API only. Each must end
// as DESIGN §5 and §9 say, leave no process and no cgroup behind, and leave
// soltid's memory flat.
//
// Every Task carries kMarkerVar in its environment, so a scan of
// /proc/*/environ finds whatever any of its processes left running, daemons
// included. soltid itself is started with a secret in its environment and an
// inheritable descriptor, which no Task may see.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/task_test.h"

namespace solti {
namespace {

using namespace std::chrono_literals;
using testing::alive;
using testing::Clock;
using testing::kTasks;
using testing::millis_between;
using testing::Reply;
using testing::status_of;

constexpr const char* kMarkerVar = "SOLTI_FAULT_MARKER";
// soltid's environment and descriptors that its Tasks must not inherit.
constexpr const char* kSecretVar = "SOLTI_TEST_SECRET";
constexpr const char* kSecretValue = "hunter2";
constexpr int kInheritableFd = 42;
// The attempt log cap soltid uses (ControllerOptions::log_limit_bytes) and
// the marker the runner writes after it.
constexpr size_t kLogCapBytes = 10 * 1024 * 1024;
const std::string kTruncationMarker =
    "[solti: log truncated at " + std::to_string(kLogCapBytes) + " bytes]\n";
// How much soltid's resident memory may grow across the faults: a bound on
// leaks (a 1 GiB flood held in memory would blow it), not a measurement.
constexpr int64_t kRssSlackKb = testing::memory_bound_kib(50 * 1024);

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int64_t resident_kb(pid_t pid) {
  std::istringstream status(read_text("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

size_t open_fd_count(pid_t pid) {
  std::error_code ec;
  auto fds = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
  return size_t(std::distance(fds, std::filesystem::directory_iterator()));
}

// Live processes (zombies have no environment) with an environment entry
// that `matches`.
std::vector<pid_t> processes_with_env(const std::function<bool(const std::string&)>& matches) {
  std::vector<pid_t> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::istringstream environ(read_text(entry.path() / "environ"));
    for (std::string var; std::getline(environ, var, '\0');) {
      if (!matches(var)) continue;
      if (alive(std::stoi(name))) found.push_back(std::stoi(name));
      break;
    }
  }
  return found;
}

// "pid command line; ..." for failure messages.
std::string describe(const std::vector<pid_t>& pids) {
  std::string text;
  for (pid_t pid : pids) {
    std::string command = read_text("/proc/" + std::to_string(pid) + "/cmdline");
    std::replace(command.begin(), command.end(), '\0', ' ');
    text += (text.empty() ? "" : "; ") + std::to_string(pid) + " " + command;
  }
  return text;
}

// The cgroup directories of a soltid instance: solti-<instance> in each
// hierarchy, and the attempt cgroups inside them.
struct InstanceCgroups {
  std::vector<std::string> instance_dirs, attempt_dirs;
};
// Other tests' attempts come and go under /sys/fs/cgroup while this walks
// it, and a directory removed mid-walk ends the walk with an error: such a
// walk is done again rather than taken as complete.
InstanceCgroups cgroups_of_instance(const std::string& instance_id) {
  namespace fs = std::filesystem;
  InstanceCgroups found;
  for (int walk = 0; walk < 20; ++walk) {
    found = {};
    std::error_code ec;
    fs::recursive_directory_iterator it("/sys/fs/cgroup",
                                        fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_directory(ec) || it->is_symlink(ec)) {
        it.disable_recursion_pending();
        continue;
      }
      if (it->path().filename() != "solti-" + instance_id) continue;
      found.instance_dirs.push_back(it->path());
      for (const auto& attempt : fs::directory_iterator(it->path(), ec))
        if (attempt.is_directory(ec)) found.attempt_dirs.push_back(attempt.path());
      it.disable_recursion_pending();
    }
    if (!ec) return found;
  }
  ADD_FAILURE() << "/sys/fs/cgroup could not be walked without an error";
  return found;
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : "; ") + item;
  return text;
}

bool terminal(const std::string& phase) {
  static const std::set<std::string> kTerminal = {"Succeeded", "Failed", "Timeout", "Canceled",
                                                  "Exhausted"};
  return kTerminal.count(phase) > 0;
}

// The condition of this type, or null.
Json condition(const Json& task, const std::string& type) {
  for (const Json& c : status_of(task).value("conditions", Json::array()))
    if (c.value("type", "") == type) return c;
  return nullptr;
}

// One misbehaving Task: how to start it, how to know it ended, and what must
// hold then. Split in three so that several faults can run at once on one
// soltid, with the memory measured after they all ended and before their
// checks read any log.
struct Fault {
  std::string name;  // the Task's name
  std::function<void()> provoke;
  std::function<Json()> await_end;  // returns the Task's last state
  std::function<void(const Json& last)> verify;
};

class RunnerFaultTest : public testing::TaskTest {
 protected:
  // soltid starts with a secret in its environment and an inheritable
  // descriptor: the test process holds both while it forks soltid.
  void SetUp() override {
    ASSERT_EQ(::setenv(kSecretVar, kSecretValue, 1), 0);
    const int fd = ::open("/etc/hostname", O_RDONLY);  // no O_CLOEXEC: soltid inherits it
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::dup2(fd, kInheritableFd), kInheritableFd);
    ::close(fd);
    testing::TaskTest::SetUp();
    ::close(kInheritableFd);
    ::unsetenv(kSecretVar);
  }

  // Nothing of this test may outlive it. soltid stops gracefully, which
  // cancels whatever a failed check left running and removes its cgroup
  // directories; a process that survives even that is reported and killed.
  void TearDown() override {
    EXPECT_EQ(describe(processes_of_this_test()), "");
    if (soltid_.pid() > 0) {
      const std::string instance = instance_id();
      soltid_.stop();
      EXPECT_EQ(joined(cgroups_of_instance(instance).instance_dirs), "")
          << "soltid's graceful stop left its cgroup directories";
    }
    const std::vector<pid_t> survivors = processes_of_this_test();
    EXPECT_EQ(describe(survivors), "") << "survived soltid's graceful stop";
    for (pid_t pid : survivors) ::kill(pid, SIGKILL);
    testing::TaskTest::TearDown();
  }

  // The value of kMarkerVar in every process of the Task `name`.
  std::string marker_of(const std::string& name) const {
    return "faults-" + std::to_string(::getpid()) + "-" + name;
  }
  std::vector<pid_t> processes_of(const std::string& name) const {
    const std::string entry = std::string(kMarkerVar) + "=" + marker_of(name);
    return processes_with_env([&](const std::string& var) { return var == entry; });
  }
  std::vector<pid_t> processes_of_this_test() const {
    const std::string prefix = std::string(kMarkerVar) + "=" + marker_of("");
    return processes_with_env([&](const std::string& var) { return var.rfind(prefix, 0) == 0; });
  }

  // A spec running `subprocess` in the work dir with the Task's marker;
  // `fields` adds or overrides spec fields (a timeout of 60 s by default).
  Json spec_for(const std::string& name, Json subprocess, Json fields = Json::object()) {
    Json marker_var = {{"name", kMarkerVar}, {"value", marker_of(name)}};
    subprocess["env"] = Json::array();
    subprocess["env"].push_back(marker_var);
    subprocess["cwd"] = work_;
    Json spec = {{"timeout", "60s"}};
    spec.update(fields);
    spec["subprocess"] = std::move(subprocess);
    return spec;
  }
  static Json bash(const std::string& body) {
    return {{"script", {{"runtime", "bash"}, {"body", body}}}};
  }
  static Json command(const std::string& program, const std::vector<std::string>& args) {
    return {{"command", program}, {"args", args}};
  }

  Json wait_terminal(const std::string& name) {
    return wait_for(
        name, [](const Json& t) { return terminal(phase(t)); }, "terminal");
  }

  // A Fault that waits for a terminal phase.
  Fault fault(const std::string& name, std::function<void()> provoke,
              std::function<void(const Json&)> verify) {
    return {name, std::move(provoke), [this, name] { return wait_terminal(name); },
            std::move(verify)};
  }

  std::string log_of(const std::string& name, const std::string& query = "") {
    Reply r = call("GET", std::string(kTasks) + "/" + name + "/log" + query);
    EXPECT_EQ(r.status, 200) << r.text.substr(0, 200);
    return r.text;
  }

  std::string instance_id() const {
    std::string id = read_text(soltid_.data_dir() + "/instance-id");
    while (!id.empty() && id.back() == '\n') id.pop_back();
    return id;
  }

  // Nothing of the Task `name` runs: checked without waiting, because
  // soltid reports an attempt only after every process of it is gone.
  void expect_nothing_left(const std::string& name) {
    EXPECT_EQ(describe(processes_of(name)), "") << name << " left processes";
  }

  // soltid's resident memory and descriptors once it has run one Task: the
  // baseline the faults are measured against.
  struct Footprint {
    int64_t rss_kb = 0;
    size_t fds = 0;
  };
  Footprint warmed_up_footprint() {
    create("warm-up", spec_for("warm-up", command("echo", {"warm"}), {{"timeout", "10s"}}));
    wait_phase("warm-up", "Succeeded");
    return {resident_kb(soltid_.pid()), open_fd_count(soltid_.pid())};
  }
  void expect_footprint_flat(const Footprint& before) {
    const int64_t rss = resident_kb(soltid_.pid());
    EXPECT_LE(rss, before.rss_kb + kRssSlackKb)
        << "soltid's VmRSS grew from " << before.rss_kb << " kB to " << rss << " kB";
    // A few for the test client's connections and RocksDB's files.
    const size_t fds = open_fd_count(soltid_.pid());
    EXPECT_LE(fds, before.fds + 4) << "soltid's descriptors grew from " << before.fds;
  }

  // Runs the faults at once: all start, all end, then soltid's memory, the
  // checks, and nothing left of any of them (processes or cgroups).
  void run(const std::vector<Fault>& faults) {
    const Footprint before = warmed_up_footprint();
    for (const Fault& f : faults) f.provoke();
    std::vector<Json> last;
    for (const Fault& f : faults) last.push_back(f.await_end());
    for (const Fault& f : faults) expect_nothing_left(f.name);
    expect_footprint_flat(before);
    for (size_t i = 0; i < faults.size(); ++i) faults[i].verify(last[i]);
    EXPECT_EQ(joined(cgroups_of_instance(instance_id()).attempt_dirs), "");
  }

  // --- the faults ------------------------------------------------------------

  // The whole group ignores SIGTERM (an ignored signal stays ignored across
  // exec): the timeout's SIGTERM does nothing, SIGKILL follows the grace.
  Fault ignores_sigterm_until_timeout() {
    const std::string name = "term-ignored-timeout";
    return fault(
        name,
        [=, this] {
          create(name, spec_for(name, bash("trap '' TERM; while :; do sleep 0.1; done"),
                                {{"timeout", "1s"}, {"terminationGracePeriod", "1s"}}));
        },
        [=, this](const Json& t) {
          EXPECT_EQ(phase(t), "Timeout") << t.dump();
          EXPECT_EQ(reason(t), "Timeout");
          const std::string message = status_of(t).value("message", "");
          EXPECT_NE(message.find("signal 9"), std::string::npos) << message;
          // timeout + grace: SIGKILL came only after the grace period.
          EXPECT_GE(millis_between(t["status"]["startTime"], t["status"]["completionTime"]), 2000);
          auto r = runs(name);
          ASSERT_EQ(r.size(), 1u);
          EXPECT_EQ(r[0]["status"]["phase"], "Timeout");
        });
  }

  // Deleting a Task whose group ignores SIGTERM: the object goes only once
  // the process is gone, after the grace period.
  Fault ignores_sigterm_until_deleted() {
    const std::string name = "term-ignored-delete";
    const std::string pid_file = name + ".pid";
    auto deleted_at = std::make_shared<Clock::time_point>();
    auto gone_at = std::make_shared<Clock::time_point>();
    auto pid = std::make_shared<pid_t>(-1);
    return {name,
            [=, this] {
              create(name, spec_for(name,
                                    bash("trap '' TERM; echo $$ > " + pid_file +
                                         "; while :; do sleep 0.1; done"),
                                    {{"terminationGracePeriod", "1s"}}));
              *pid = read_pid(pid_file);
              wait_phase(name, "Running");
              EXPECT_FALSE(processes_of(name).empty())
                  << "the /proc scan does not see a running Task's processes";
              EXPECT_FALSE(cgroups_of_instance(instance_id()).attempt_dirs.empty())
                  << "the cgroup scan does not see a running attempt's cgroup";
              *deleted_at = Clock::now();
              Reply r = call("DELETE", std::string(kTasks) + "/" + name);
              EXPECT_EQ(r.status, 200) << r.text;
            },
            [=, this] {
              const auto deadline = Clock::now() + 30s;
              while (call("GET", std::string(kTasks) + "/" + name).status != 404 &&
                     Clock::now() < deadline)
                std::this_thread::sleep_for(20ms);
              *gone_at = Clock::now();
              return get(name);
            },
            [=, this](const Json& t) {
              EXPECT_EQ(t.value("code", 0), 404) << t.dump();
              EXPECT_GE(*gone_at - *deleted_at, 1s) << "gone before the grace period ended";
              EXPECT_FALSE(alive(*pid));
              EXPECT_TRUE(runs(name).empty());
            }};
  }

  // A real double fork with setsid: two daemons in sessions of their own,
  // one detached from stdio, one still holding the log pipe. The leader
  // exits 0 once both run; the attempt takes them with it.
  Fault double_fork_daemons() {
    const std::string name = "daemonizer";
    return fault(
        name,
        [=, this] {
          create(name, spec_for(name, bash(R"(
(setsid sh -c 'echo $$ > detached.pid; exec sleep 300' </dev/null >/dev/null 2>&1 &)
(setsid sh -c 'echo $$ > holding-stdout.pid; exec sleep 300' &)
while [ ! -s detached.pid ] || [ ! -s holding-stdout.pid ]; do sleep 0.01; done
echo daemons started)")));
        },
        [=, this](const Json& t) {
          EXPECT_EQ(phase(t), "Succeeded") << t.dump();
          EXPECT_EQ(status_of(t).value("exitCode", -1), 0);
          EXPECT_EQ(log_of(name), "daemons started\n");
          for (const char* file : {"detached.pid", "holding-stdout.pid"}) {
            const pid_t daemon = read_pid(file);
            EXPECT_FALSE(alive(daemon)) << file;
          }
        });
  }

  // A daemon in a session of its own gets the timeout's SIGTERM as the
  // leader's group does (DESIGN §5: the group and the cgroup), so it can
  // clean up within the grace period. The leader ignores SIGTERM (set after
  // the daemon started: bash cannot trap what it inherited as ignored), so
  // only the SIGKILL after the grace ends the attempt.
  Fault daemon_gets_sigterm_on_timeout() {
    const std::string name = "daemon-termed";
    return fault(
        name,
        [=, this] {
          create(name, spec_for(name, bash(R"(
(setsid bash -c 'trap "echo > daemon-termed.cleaned; exit 0" TERM
echo $$ > daemon-termed.pid; while :; do sleep 0.1; done' </dev/null >/dev/null 2>&1 &)
while [ ! -s daemon-termed.pid ]; do sleep 0.01; done
trap '' TERM
while :; do sleep 0.1; done)"),
                                {{"timeout", "1s"}, {"terminationGracePeriod", "2s"}}));
        },
        [=, this](const Json& t) {
          EXPECT_EQ(phase(t), "Timeout") << t.dump();
          EXPECT_TRUE(std::filesystem::exists(work_ + "/" + name + ".cleaned"))
              << "the daemon got no SIGTERM before the SIGKILL";
        });
  }

  // 1 GiB on stdout: soltid reads it all (the Task must not block on a full
  // pipe), keeps the first 10 MiB and the truncation marker.
  Fault floods_one_gigabyte() {
    const std::string name = "flood";
    return fault(
        name,
        [=, this] {
          create(name, spec_for(name, command("head", {"-c", "1G", "/dev/zero"})));
        },
        [=, this](const Json& t) {
          EXPECT_EQ(phase(t), "Succeeded") << t.dump();
          EXPECT_EQ(status_of(t).value("exitCode", -1), 0);
          EXPECT_EQ(log_of(name, "?tailLines=1"), kTruncationMarker);
          const std::string log = log_of(name);
          EXPECT_EQ(log.size(), kLogCapBytes + 1 + kTruncationMarker.size());
          EXPECT_EQ(log.find_first_not_of('\0'), kLogCapBytes) << "the kept head is the output";
        });
  }

  // The process closes stdout and stderr and runs on: the attempt ends when
  // it exits (the file it writes last exists by then), with its exit code.
  Fault closes_stdio_and_exits_later() {
    const std::string name = "stdio-closed";
    return fault(
        name,
        [=, this] {
          create(name, spec_for(name, bash("exec >&- 2>&-; sleep 1; echo > " + name +
                                           ".finished; exit 7")));
        },
        [=, this](const Json& t) {
          EXPECT_EQ(phase(t), "Exhausted") << t.dump();
          EXPECT_EQ(reason(t), "ProcessExited");
          EXPECT_EQ(status_of(t).value("exitCode", -1), 7);
          EXPECT_TRUE(std::filesystem::exists(work_ + "/" + name + ".finished"))
              << "the attempt ended when stdout closed, before the process exited";
        });
  }

  // The same with no exit in sight: the timeout still stops it.
  Fault closes_stdio_until_timeout() {
    const std::string name = "stdio-closed-timeout";
    return fault(
        name,
        [=, this] {
          create(name, spec_for(name, bash("exec >&- 2>&-; exec sleep 100"),
                                {{"timeout", "1s"}, {"terminationGracePeriod", "1s"}}));
        },
        [=](const Json& t) {
          EXPECT_EQ(phase(t), "Timeout") << t.dump();
          EXPECT_EQ(reason(t), "Timeout");
          const std::string message = status_of(t).value("message", "");
          EXPECT_NE(message.find("signal 15"), std::string::npos) << message;
        });
  }

  // A command that does not exist cannot start: Failed (fatal, Stalled),
  // one attempt and no retry even under OnFailure with a short backoff.
  Fault command_not_found() {
    const std::string name = "no-such-command";
    const std::string program = "solti-no-such-command";
    return fault(
        name,
        [=, this] {
          create(name, spec_for(name, command(program, {"--flag"}),
                                {{"restartPolicy", "OnFailure"},
                                 {"backoff", {{"first", "50ms"}, {"jitter", "None"}}}}));
        },
        [=, this](const Json& t) {
          EXPECT_EQ(phase(t), "Failed") << t.dump();
          EXPECT_EQ(reason(t), "CommandNotFound");
          const std::string message = status_of(t).value("message", "");
          EXPECT_NE(message.find(program), std::string::npos) << message;
          EXPECT_FALSE(status_of(t).contains("nextAttemptTime")) << "a retry is scheduled";
          const Json stalled = condition(t, "Stalled");
          ASSERT_TRUE(stalled.is_object()) << t.dump();
          EXPECT_EQ(stalled.value("status", ""), "True");
          // Ten backoffs' worth of time: a retry storm would show by now.
          std::this_thread::sleep_for(500ms);
          EXPECT_EQ(status_of(get(name)).value("attempt", 0), 1);
          auto r = runs(name);
          ASSERT_EQ(r.size(), 1u);
          EXPECT_EQ(r[0]["status"]["phase"], "Failed");
          EXPECT_EQ(r[0]["status"]["reason"], "CommandNotFound");
        });
  }

  // The Task prints its environment as it was exec'd and the descriptors
  // its shell holds.
  Fault reports_what_it_inherited() {
    const std::string name = "inheritance";
    return fault(
        name,
        [=, this] {
          create(name, spec_for(name, command("sh", {"-c",
                                                     "tr '\\0' '\\n' < /proc/$$/environ; "
                                                     "echo --; ls /proc/$$/fd"})));
        },
        [=, this](const Json& t) {
          ASSERT_EQ(phase(t), "Succeeded") << t.dump();
          std::istringstream log(log_of(name));
          std::set<std::string> names, fds;
          std::string line;
          while (std::getline(log, line) && line != "--")
            names.insert(line.substr(0, line.find('=')));
          while (std::getline(log, line)) fds.insert(line);
          // DESIGN §9: a cleared environment with PATH, the Task's env and
          // the runner's (SOLTI_INSTANCE); stdin, stdout and stderr only.
          EXPECT_EQ(names, (std::set<std::string>{"PATH", "SOLTI_INSTANCE", kMarkerVar}));
          EXPECT_EQ(fds, (std::set<std::string>{"0", "1", "2"}));
        });
  }

  std::vector<Fault> every_fault() {
    return {ignores_sigterm_until_timeout(),
            ignores_sigterm_until_deleted(),
            double_fork_daemons(),
            floods_one_gigabyte(),
            closes_stdio_and_exits_later(),
            closes_stdio_until_timeout(),
            command_not_found(),
            reports_what_it_inherited()};
  }
};

TEST_F(RunnerFaultTest, IgnoringSigtermTimesOutAndIsKilledAfterTheGrace) {
  run({ignores_sigterm_until_timeout()});
}

TEST_F(RunnerFaultTest, IgnoringSigtermIsKilledAfterTheGraceOnDelete) {
  run({ignores_sigterm_until_deleted()});
}

TEST_F(RunnerFaultTest, DoubleForkedDaemonsDieWithTheAttempt) { run({double_fork_daemons()}); }

TEST_F(RunnerFaultTest, ADaemonGetsTheSigtermOfATimeoutToo) {
  run({daemon_gets_sigterm_on_timeout()});
}

TEST_F(RunnerFaultTest, AGigabyteOfOutputIsCappedWithAMarkerAndMemoryStaysFlat) {
  run({floods_one_gigabyte()});
}

TEST_F(RunnerFaultTest, ClosedStdioEndsTheAttemptOnlyWhenTheProcessExits) {
  run({closes_stdio_and_exits_later()});
}

TEST_F(RunnerFaultTest, ClosedStdioStillTimesOut) { run({closes_stdio_until_timeout()}); }

TEST_F(RunnerFaultTest, AMissingCommandFailsOnceWithoutRetries) { run({command_not_found()}); }

TEST_F(RunnerFaultTest, TasksInheritNeitherSoltidsEnvironmentNorItsDescriptors) {
  // The premise: soltid itself holds both.
  const std::string soltid_env = read_text("/proc/" + std::to_string(soltid_.pid()) + "/environ");
  ASSERT_NE(soltid_env.find(std::string(kSecretVar) + "=" + kSecretValue), std::string::npos);
  ASSERT_TRUE(std::filesystem::exists("/proc/" + std::to_string(soltid_.pid()) + "/fd/" +
                                      std::to_string(kInheritableFd)));
  run({reports_what_it_inherited()});
}

TEST_F(RunnerFaultTest, AllFaultsAtOnceLeaveNothingBehindAndMemoryFlat) { run(every_fault()); }

}  // namespace
}  // namespace solti
