// One attempt that is a host process: the machinery the subprocess, wasm
// and container runners share. A runner says what to start (plan()); this
// class starts it in its own process group (and cgroup, when the host has
// them), writes its stdout and stderr to the attempt's log up to a cap,
// enforces the timeout, stops it on cancel, and reports once every process
// it started is gone.
//
// Threading: lives on one io_context after begin(); begin() and cancel()
// may be called from any thread. Never destroyed while a callback is pending (shared_from_this).
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reconciler/runners/cgroup.h"
#include "reconciler/runners/runner.h"
#include "reconciler/runners/spawn.h"

namespace solti::runners {

// What a runner decided to start for an attempt.
struct ProcessPlan {
  SpawnRequest spawn;            // stdio and cgroup membership are added by ProcessAttempt
  std::string what = "process";  // names it in messages: "container exited ..."
  bool fail_on_non_zero = true;
  std::optional<CgroupLimits> cgroup_limits;           // set: run in an attempt cgroup
  std::vector<int> fds_to_close;                       // handed to the child, closed after spawn
  std::vector<std::filesystem::path> files_to_remove;  // removed when the attempt ends
};

// A start failure: the CamelCase reason and the message.
Status start_failure(std::string_view reason, std::string_view message);
// Makes `result` a failure with reason OOMKilled; `how` says how it ended.
void mark_oom_killed(AttemptResult& result, const TaskSpec& spec, const std::string& how);

class ProcessAttempt : public Attempt, public std::enable_shared_from_this<ProcessAttempt> {
 public:
  ProcessAttempt(boost::asio::io_context& loop, AttemptRequest request,
                 std::function<void(AttemptResult)> done, const CgroupHost* cgroups);
  ~ProcessAttempt() override;

  // Spawns on the calling thread (a spawn blocks for the kernel's cgroup
  // and exec work, so callers on several threads spawn in parallel), then
  // watches the process on the loop, where every later step runs.
  void begin();
  void cancel(std::chrono::milliseconds grace) override;

 protected:
  // What to start; a failure is a start_failure().
  virtual Result<ProcessPlan> plan() = 0;
  // Stops the attempt on timeout or cancel. By default: SIGTERM to the
  // group, SIGKILL to the group (and cgroup) after `grace`.
  virtual void terminate(std::chrono::milliseconds grace);
  // Runs after every process is gone and before the result is reported; may
  // amend the result and must call `then` exactly once, on the loop.
  virtual void after_exit(AttemptResult& result, std::function<void()> then);

  void kill_everything();
  bool exited() const { return exited_; }
  const AttemptRequest& request() const { return request_; }
  boost::asio::io_context& loop() { return loop_; }
  // The last `bytes` of what the attempt logged (for error messages).
  std::string log_tail(size_t bytes) const;

 private:
  Status launch();
  void watch();
  Status spawn_planned();
  void read_output();
  void log(std::string_view data);
  void write_all(std::string_view data);
  void on_exit();
  void stop(Outcome why, std::chrono::milliseconds grace);
  void release_cgroup();
  void maybe_finish();
  AttemptResult result() const;
  void finish(AttemptResult result);
  void finish_without_process(const Status& why);

  boost::asio::io_context& loop_;
  AttemptRequest request_;
  std::function<void(AttemptResult)> done_;
  const CgroupHost* cgroups_;
  ProcessPlan plan_;
  std::unique_ptr<AttemptCgroup> cgroup_;
  pid_t pid_ = -1;
  boost::asio::posix::stream_descriptor pidfd_;
  boost::asio::posix::stream_descriptor output_;
  boost::asio::steady_timer timeout_timer_, kill_timer_, drain_timer_, cgroup_timer_;
  std::array<char, 65536> buffer_{};
  int log_fd_ = -1;
  size_t logged_ = 0;
  bool truncated_ = false;
  bool exited_ = false;
  bool output_closed_ = false;
  bool cleaning_up_ = false;
  bool finished_ = false;
  int cgroup_rounds_ = 0;
  bool oom_killed_ = false;
  std::optional<Outcome> stop_reason_;
  siginfo_t exit_info_{};
};

// Runs a helper command (podman ps, rm, ...) to completion on the loop:
// `done(exit code or -1, stdout)`. Its stderr goes to soltid's stderr.
void run_command_async(boost::asio::io_context& loop, std::vector<std::string> argv,
                       std::function<void(int exit_code, std::string output)> done);
// The same, blocking the calling thread (startup checks).
int run_command(const std::vector<std::string>& argv, std::string* output = nullptr);

// The PATH an attempt's environment starts with.
inline constexpr std::string_view kDefaultTaskPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// `name` as PATH would find it, or "" ("" also when `name` has a slash and
// is not an executable file).
std::string find_executable(const std::string& name, const std::string& path);
// The same on soltid's own PATH (kDefaultTaskPath when it has none): for
// the tools soltid runs itself (podman, node, wasmtime).
std::string find_host_executable(const std::string& name);
// Appends NAME=value for each entry.
void append_env(std::vector<std::string>& out, const std::map<std::string, std::string>& env);
// soltid's own environment, for the tools it runs itself.
std::vector<std::string> host_environment();

}  // namespace solti::runners
