// The subprocess runner against real processes.
#include "reconciler/runners/subprocess_runner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/executor_work_guard.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

namespace solti::runners {
namespace {

namespace asio = boost::asio;

class SubprocessRunnerTest : public ::testing::Test {
 protected:
  SubprocessRunnerTest()
      : work_(asio::make_work_guard(loop_)),
        cgroups_(std::make_shared<const CgroupHost>(
            CgroupHost::detect_this_host("runner-test-" + std::to_string(::getpid())))),
        runner_(make_subprocess_runner(loop_, {"", cgroups_})) {
    std::string pattern = (std::filesystem::temp_directory_path() / "solti-runner-XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    thread_ = std::thread([this] { loop_.run(); });
  }
  ~SubprocessRunnerTest() override {
    work_.reset();
    loop_.stop();
    thread_.join();
    std::filesystem::remove_all(dir_);
    cgroups_->remove_instance_dirs();
  }

  static TaskSpec command(std::string cmd, std::vector<std::string> args = {},
                          std::string timeout = "30s") {
    TaskSpec spec;
    spec.timeout = *Duration::parse(timeout);
    spec.subprocess.emplace();
    spec.subprocess->command = std::move(cmd);
    spec.subprocess->args = std::move(args);
    return spec;
  }
  static TaskSpec script(std::string body, ScriptRuntime runtime = ScriptRuntime::kSh,
                         std::string timeout = "30s") {
    TaskSpec spec;
    spec.timeout = *Duration::parse(timeout);
    spec.subprocess.emplace();
    spec.subprocess->script = Script{runtime, std::move(body)};
    return spec;
  }

  struct Run {
    AttemptResult result;
    std::string log;
  };

  std::shared_ptr<Attempt> start(TaskSpec spec, std::promise<AttemptResult>& promise,
                                 size_t limit = 1 << 20) {
    AttemptRequest request{"test#" + std::to_string(++count_),
                           std::move(spec),
                           {{"RUNNER_VAR", "r"}},
                           dir_ + "/" + std::to_string(count_) + ".log",
                           limit};
    last_log_ = request.log_path;
    return runner_->start(std::move(request),
                          [&promise](AttemptResult r) { promise.set_value(std::move(r)); });
  }

  Run run(TaskSpec spec, size_t limit = 1 << 20) {
    std::promise<AttemptResult> promise;
    auto future = promise.get_future();
    start(std::move(spec), promise, limit);
    EXPECT_EQ(future.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    return {future.get(), read_log()};
  }

  std::string read_log() const {
    std::ifstream in(last_log_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Running: present and not a zombie (an orphan killed by SIGKILL stays a
  // zombie until init reaps it). A killed process closes its files (which
  // ends the attempt's log) just before it turns into a zombie, so this
  // waits, boundedly, for that last step.
 public:
  static bool alive(pid_t pid) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (true) {
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string text;
      if (!std::getline(stat, text)) return false;
      size_t close = text.rfind(')');
      if (close == std::string::npos || close + 2 >= text.size() || text[close + 2] == 'Z')
        return false;
      if (std::chrono::steady_clock::now() >= deadline) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 protected:
  asio::io_context loop_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::shared_ptr<const CgroupHost> cgroups_;
  std::unique_ptr<Runner> runner_;
  std::thread thread_;
  std::string dir_;
  std::string last_log_;
  int count_ = 0;
};

TEST_F(SubprocessRunnerTest, EchoSucceedsAndLogsItsOutput) {
  Run r = run(command("echo", {"hi"}));
  EXPECT_EQ(r.result.outcome, Outcome::kSucceeded);
  EXPECT_EQ(r.result.exit_code, 0);
  EXPECT_EQ(r.log, "hi\n");
  EXPECT_EQ(r.result.reason, "ProcessExited");
}

TEST_F(SubprocessRunnerTest, NonZeroExitFailsUnlessFailOnNonZeroIsOff) {
  Run failed = run(script("echo out; echo err >&2; exit 3"));
  EXPECT_EQ(failed.result.outcome, Outcome::kFailed);
  EXPECT_EQ(failed.result.exit_code, 3);
  EXPECT_EQ(failed.result.message, "process exited with code 3");
  EXPECT_EQ(failed.log, "out\nerr\n");  // stdout and stderr in one log, in order
  TaskSpec lenient = script("exit 3");
  lenient.subprocess->fail_on_non_zero = false;
  EXPECT_EQ(run(lenient).result.outcome, Outcome::kSucceeded);
}

TEST_F(SubprocessRunnerTest, ScriptsRunInEveryInterpreterFromAFileNotArgv) {
  Run sh = run(script("echo \"$0\" $1", ScriptRuntime::kSh));
  EXPECT_EQ(sh.log, "/dev/fd/3\n");
  TaskSpec with_args = script("echo \"args: $*\"", ScriptRuntime::kBash);
  with_args.subprocess->args = {"a", "b c"};
  EXPECT_EQ(run(with_args).log, "args: a b c\n");
  EXPECT_EQ(run(script("import sys\nprint('py', sys.argv[1:])", ScriptRuntime::kPython)).log,
            "py []\n");
  if (!std::filesystem::exists("/usr/bin/node")) GTEST_SKIP() << "node is not installed";
  // node needs a real path: a private file, mode 600, gone afterwards.
  Run node =
      run(script("const fs = require('fs');\nconsole.log((fs.statSync(process.argv[1]).mode & "
                 "0o777).toString(8));\n"
                 "console.log(process.argv[1]);",
                 ScriptRuntime::kNode));
  std::istringstream lines(node.log);
  std::string mode, path;
  lines >> mode >> path;
  EXPECT_EQ(mode, "600") << node.log;
  EXPECT_FALSE(std::filesystem::exists(path)) << path;
}

TEST_F(SubprocessRunnerTest, EnvironmentIsClearedButPathAndTaskAndRunnerEnv) {
  ::setenv("SOLTI_SECRET_OF_THE_PARENT", "leak", 1);
  TaskSpec spec = command("env");
  spec.subprocess->env = {{"TASK_VAR", "t"}, {"RUNNER_VAR", "task loses"}};
  Run r = run(spec);
  EXPECT_EQ(r.log,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/"
            "bin\nRUNNER_VAR=r\nTASK_VAR=t\n");
}

TEST_F(SubprocessRunnerTest, WorkingDirectoryAndStartFailures) {
  TaskSpec in_tmp = command("pwd");
  in_tmp.subprocess->cwd = dir_;
  EXPECT_EQ(run(in_tmp).log, dir_ + "\n");
  Run missing = run(command("no-such-command-solti"));
  EXPECT_EQ(missing.result.outcome, Outcome::kStartFailed);
  EXPECT_EQ(missing.result.reason, "CommandNotFound");
  EXPECT_EQ(missing.result.message, "no-such-command-solti: command not found");
  TaskSpec bad_cwd = command("true");
  bad_cwd.subprocess->cwd = "/nonexistent/solti";
  EXPECT_EQ(run(bad_cwd).result.reason, "InvalidCwd");
}

TEST_F(SubprocessRunnerTest, TimeoutStopsTheWholeGroup) {
  // The script starts a background grandchild and reports both pids.
  Run r = run(script("sleep 100 & echo $! ; echo $$ ; wait", ScriptRuntime::kSh, "300ms"));
  EXPECT_EQ(r.result.outcome, Outcome::kTimedOut);
  EXPECT_EQ(r.result.reason, "Timeout");
  EXPECT_EQ(r.result.signal, SIGTERM);
  std::istringstream pids(r.log);
  pid_t grandchild = 0, leader = 0;
  pids >> grandchild >> leader;
  ASSERT_GT(grandchild, 0);
  EXPECT_FALSE(alive(grandchild));
  EXPECT_FALSE(alive(leader));
}

TEST_F(SubprocessRunnerTest, ATermIgnoringProcessIsKilledAfterTheGrace) {
  TaskSpec spec = script("trap 'echo got TERM' TERM; echo ready; while true; do sleep 0.05; done",
                         ScriptRuntime::kBash, "300ms");
  spec.termination_grace_period = *Duration::parse("300ms");
  Run r = run(spec);
  EXPECT_EQ(r.result.outcome, Outcome::kTimedOut);
  EXPECT_NE(r.log.find("got TERM"), std::string::npos) << r.log;
}

TEST_F(SubprocessRunnerTest, CancelEndsTheAttemptAsCanceled) {
  std::promise<AttemptResult> promise;
  auto future = promise.get_future();
  auto attempt = start(script("echo started; sleep 100"), promise);
  while (read_log().find("started") == std::string::npos)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  attempt->cancel(std::chrono::milliseconds(1000));
  ASSERT_EQ(future.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  AttemptResult r = future.get();
  EXPECT_EQ(r.outcome, Outcome::kCanceled);
  EXPECT_EQ(r.signal, SIGTERM);
}

TEST_F(SubprocessRunnerTest, BackgroundProcessesDieWithTheLeader) {
  Run r = run(script("sleep 100 & echo $!"));
  EXPECT_EQ(r.result.outcome, Outcome::kSucceeded);
  pid_t grandchild = std::stoi(r.log);
  EXPECT_FALSE(alive(grandchild));
}

TEST_F(SubprocessRunnerTest, LogsAreCappedWithAMarker) {
  Run r = run(script("head -c 100000 /dev/zero | tr '\\0' x"), 1000);
  EXPECT_EQ(r.result.outcome, Outcome::kSucceeded);
  EXPECT_EQ(r.log, std::string(1000, 'x') + "\n[solti: log truncated at 1000 bytes]\n");
}

TEST_F(SubprocessRunnerTest, HundredsOfProcessesWithoutAThreadEach) {
  constexpr int kTasks = 200;
  std::vector<std::promise<AttemptResult>> promises(kTasks);
  std::vector<std::shared_ptr<Attempt>> attempts;
  for (int i = 0; i < kTasks; ++i)
    attempts.push_back(start(script("sleep 1"), promises[size_t(i)]));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::ifstream status("/proc/self/status");
  int threads = 0;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Threads:", 0) == 0) threads = std::stoi(line.substr(8));
  }
  EXPECT_LE(threads, 4) << "the runner must not use a thread per process";
  for (auto& p : promises) {
    auto f = p.get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    EXPECT_EQ(f.get().outcome, Outcome::kSucceeded);
  }
}

TEST_F(SubprocessRunnerTest, EveryAttemptRunsWithNoNewPrivsAndNoInheritedFds) {
  const int leaked = ::open("/dev/null", O_RDONLY);  // not close-on-exec
  ASSERT_GE(leaked, 3);
  Run r = run(
      command("sh", {"-c", "grep NoNewPrivs /proc/self/status; ls /proc/self/fd | tr '\\n' ' '"}));
  ::close(leaked);
  EXPECT_EQ(r.result.outcome, Outcome::kSucceeded) << r.log;
  // stdin, the log (twice) and ls's own directory
  EXPECT_EQ(r.log, "NoNewPrivs:\t1\n0 1 2 3 ") << "fd " << leaked << " leaked";
}

TEST_F(SubprocessRunnerTest, RlimitsForOpenFilesFileSizeAndCore) {
  TaskSpec spec = script("ulimit -n; ulimit -c; head -c 10000 /dev/zero > big; wc -c < big");
  spec.subprocess->cwd = dir_;
  spec.subprocess->resources.emplace();
  spec.subprocess->resources->open_files = 64;
  spec.subprocess->resources->file_size = *Quantity::parse("4Ki");
  Run r = run(spec);
  EXPECT_EQ(r.log.substr(0, 5), "64\n0\n") << r.log;
  EXPECT_NE(r.log.find("4096\n"), std::string::npos)
      << "fileSize stops the write at 4 KiB: " << r.log;
}

TEST_F(SubprocessRunnerTest, RunAsUserRunsAsNobody) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TaskSpec spec = command("id");
  spec.subprocess->run_as_user = 65534;
  Run r = run(spec);
  EXPECT_EQ(r.result.outcome, Outcome::kSucceeded) << r.log;
  EXPECT_EQ(r.log.substr(0, r.log.find(' ')), "uid=65534(nobody)") << r.log;
  EXPECT_NE(r.log.find("gid=65534"), std::string::npos) << r.log;
  EXPECT_EQ(r.log.find("groups=0"), std::string::npos) << "root's groups are dropped: " << r.log;

  TaskSpec node = script("console.log(process.getuid())", ScriptRuntime::kNode);
  node.subprocess->run_as_user = 65534;
  Run n = run(node);
  EXPECT_EQ(n.log, "65534\n") << "the script file is readable by the task's user only";
}

TEST_F(SubprocessRunnerTest, MemoryLimitEndsInOOMKilled) {
  if (!cgroups_->has("memory")) GTEST_SKIP() << cgroups_->describe();
  // tail holds its whole last "line": 300 MB of zeros without a newline
  TaskSpec spec = command("sh", {"-c", "head -c 300000000 /dev/zero | tail"});
  spec.subprocess->resources.emplace();
  spec.subprocess->resources->memory = *Quantity::parse("64Mi");
  Run r = run(spec);
  EXPECT_EQ(r.result.outcome, Outcome::kFailed);
  EXPECT_EQ(r.result.reason, "OOMKilled");
  EXPECT_NE(r.result.message.find("memory limit of 64Mi"), std::string::npos) << r.result.message;
}

// Processes carrying `marker` in their environment that are not zombies.
static int live_processes_with(const std::string& marker) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "environ", std::ios::binary);
    std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (env.find(marker) != std::string::npos && SubprocessRunnerTest::alive(std::stoi(name)))
      ++count;
  }
  return count;
}

TEST_F(SubprocessRunnerTest, AForkBombIsContainedByItsPidsLimit) {
  if (!cgroups_->has("pids")) GTEST_SKIP() << cgroups_->describe();
  const std::string marker = "BOMB_MARKER=" + std::to_string(::getpid());
  TaskSpec spec =
      script("bomb() { bomb | bomb & }; bomb; sleep 2; echo alive", ScriptRuntime::kBash, "3s");
  spec.subprocess->env = {{"BOMB_MARKER", std::to_string(::getpid())}};
  spec.subprocess->resources.emplace();
  spec.subprocess->resources->pids = 64;
  Run r = run(spec);
  EXPECT_NE(r.log.find("Resource temporarily unavailable"), std::string::npos)
      << "the bomb hit its limit: " << r.log.substr(0, 300);
  EXPECT_EQ(live_processes_with(marker), 0) << "every process of the bomb is gone";
  EXPECT_EQ(run(command("true")).result.outcome, Outcome::kSucceeded) << "the machine still forks";
}

TEST_F(SubprocessRunnerTest, AProcessThatLeftTheGroupDiesThroughTheCgroup) {
  if (cgroups_->version() == 0) GTEST_SKIP() << cgroups_->describe();
  const std::string marker = "ESCAPE_MARKER=" + std::to_string(::getpid());
  TaskSpec spec = script("setsid sleep 100 > /dev/null 2>&1 < /dev/null & sleep 0.2");
  spec.subprocess->env = {{"ESCAPE_MARKER", std::to_string(::getpid())}};
  Run r = run(spec);
  EXPECT_EQ(r.result.outcome, Outcome::kSucceeded);
  EXPECT_EQ(live_processes_with(marker), 0) << "the setsid'd sleep is killed";
}

TEST_F(SubprocessRunnerTest, LimitsTheHostCannotEnforceFailToStart) {
  auto none = std::make_shared<const CgroupHost>();
  auto runner = make_subprocess_runner(loop_, {"", none});
  TaskSpec spec = command("true");
  spec.subprocess->resources.emplace();
  spec.subprocess->resources->memory = *Quantity::parse("64Mi");
  std::promise<AttemptResult> promise;
  runner->start({"limits#1", spec, {}, dir_ + "/limits.log"},
                [&promise](AttemptResult r) { promise.set_value(std::move(r)); });
  AttemptResult r = promise.get_future().get();
  EXPECT_EQ(r.outcome, Outcome::kStartFailed);
  EXPECT_EQ(r.reason, "ResourceLimitsUnavailable");
}

}  // namespace
}  // namespace solti::runners
