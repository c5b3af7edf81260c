#include "reconciler/runners/subprocess_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace solti::runners {
namespace {

namespace asio = boost::asio;

constexpr std::string_view kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// How long output may still arrive after the attempt's processes are gone
// (a process that escaped the group may hold the pipe open).
constexpr std::chrono::seconds kOutputGrace{2};

std::string_view interpreter(ScriptRuntime runtime) {
  switch (runtime) {
    case ScriptRuntime::kBash:
      return "bash";
    case ScriptRuntime::kSh:
      return "sh";
    case ScriptRuntime::kPython:
      return "python3";
    case ScriptRuntime::kNode:
      return "node";
  }
  return "sh";
}

bool is_executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// `name` as the child's PATH would find it ("" when it would not).
std::string resolve(const std::string& name, const std::string& path) {
  if (name.find('/') != std::string::npos) return is_executable_file(name) ? name : "";
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  return "";
}

class SubprocessAttempt final : public Attempt,
                                public std::enable_shared_from_this<SubprocessAttempt> {
 public:
  SubprocessAttempt(asio::io_context& loop, AttemptRequest request,
                    std::function<void(AttemptResult)> done)
      : loop_(loop),
        request_(std::move(request)),
        done_(std::move(done)),
        pidfd_(loop),
        output_(loop),
        timeout_timer_(loop),
        kill_timer_(loop),
        drain_timer_(loop) {}

  ~SubprocessAttempt() override {
    if (log_fd_ >= 0) ::close(log_fd_);
    remove_staged_script();
  }

  void begin() {
    if (Status s = spawn(); !s.ok()) {
      finish_without_process(s.message());
      return;
    }
    auto self = shared_from_this();
    pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [self](const boost::system::error_code& ec) {
                        if (!ec) self->on_exit();
                      });
    read_output();
    if (request_.spec.timeout && request_.spec.timeout->value().count() > 0) {
      timeout_timer_.expires_after(request_.spec.timeout->value());
      timeout_timer_.async_wait([self](const boost::system::error_code& ec) {
        if (!ec) self->stop(Outcome::kTimedOut, effective_termination_grace(self->request_.spec));
      });
    }
  }

  void cancel(std::chrono::milliseconds grace) override {
    asio::post(loop_,
               [self = shared_from_this(), grace] { self->stop(Outcome::kCanceled, grace); });
  }

 private:
  // Starts the process; errors are the reasons it could not start.
  Status spawn() {
    if (!request_.spec.subprocess)
      return Status(StatusCode::kInvalid, "UnsupportedKind|not a subprocess task");
    const SubprocessSpec& sp = *request_.spec.subprocess;

    std::map<std::string, std::string> env = {{"PATH", std::string(kDefaultPath)}};
    for (const auto& [k, v] : merge_env(sp.env, request_.runner_env)) env[k] = v;

    if (sp.script) {
      if (Status s = stage_script(*sp.script); !s.ok()) return s;
    }
    std::vector<std::string> argv;
    const std::string program_name =
        sp.command ? *sp.command
                   : std::string(interpreter(sp.script->runtime.value_or(ScriptRuntime::kSh)));
    const std::string program = resolve(program_name, env["PATH"]);
    if (program.empty()) {
      return Status(StatusCode::kNotFound,
                    "CommandNotFound|" + program_name + ": command not found");
    }
    argv.push_back(program_name);
    if (sp.script) argv.push_back(script_path_.empty() ? "/dev/fd/3" : script_path_);
    argv.insert(argv.end(), sp.args.begin(), sp.args.end());
    if (sp.cwd) {
      struct stat st;
      if (::stat(sp.cwd->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return Status(StatusCode::kNotFound,
                      "InvalidCwd|working directory " + *sp.cwd + " does not exist");
      }
    }

    log_fd_ = ::open(request_.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd_ < 0) {
      return Status(StatusCode::kInternal, "LogUnavailable|cannot open " + request_.log_path +
                                               ": " + std::strerror(errno));
    }
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
      return Status(StatusCode::kInternal,
                    "StartFailed|pipe: " + std::string(std::strerror(errno)));
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int script_fd = script_fd_;

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, devnull, 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
    if (script_fd >= 0) posix_spawn_file_actions_adddup2(&actions, script_fd, 3);
    if (sp.cwd) posix_spawn_file_actions_addchdir_np(&actions, sp.cwd->c_str());

    // soltid blocks SIGTERM/SIGINT and ignores SIGPIPE; a child must start
    // with neither, or it could not be stopped gracefully.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> env_strings;
    for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
    std::vector<char*> c_argv, c_env;
    for (auto& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    for (auto& e : env_strings) c_env.push_back(e.data());
    c_env.push_back(nullptr);

    const int rc =
        posix_spawn(&pid_, program.c_str(), &actions, &attr, c_argv.data(), c_env.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(pipe_fds[1]);
    if (devnull >= 0) ::close(devnull);
    if (script_fd >= 0) ::close(script_fd);
    script_fd_ = -1;
    if (rc != 0) {
      ::close(pipe_fds[0]);
      pid_ = -1;
      return Status(StatusCode::kInternal,
                    "StartFailed|" + program_name + ": " + std::strerror(rc));
    }
    output_.assign(pipe_fds[0]);
    // The raw syscall: glibc 2.36's <sys/pidfd.h> lacks extern "C" for C++.
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd < 0) {
      // Cannot supervise it: do not leave it running unsupervised.
      ::killpg(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      return Status(StatusCode::kInternal,
                    "StartFailed|pidfd_open: " + std::string(std::strerror(errno)));
    }
    pidfd_.assign(pidfd);
    return Status::Ok();
  }

  // The body reaches the interpreter as a file, never as an argument: a
  // sealed memfd the child reads as /dev/fd/3, or for node (which resolves
  // the script's real path, and a memfd has none) a private 0600 file that
  // is removed when the attempt ends.
  Status stage_script(const Script& script) {
    const bool needs_path = script.runtime == ScriptRuntime::kNode;
    int fd = -1;
    if (needs_path) {
      std::string pattern = "/tmp/solti-script-XXXXXX";
      fd = ::mkostemp(pattern.data(), O_CLOEXEC);  // mode 0600
      if (fd >= 0) script_path_ = pattern;
    } else {
      fd = ::memfd_create("solti-script", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    }
    std::string_view body = script.body;
    while (fd >= 0 && !body.empty()) {
      ssize_t n = ::write(fd, body.data(), body.size());
      if (n <= 0) break;
      body.remove_prefix(size_t(n));
    }
    if (fd < 0 || !body.empty()) {
      if (fd >= 0) ::close(fd);
      return Status(StatusCode::kInternal, "StartFailed|cannot stage the script body");
    }
    if (needs_path) {
      ::close(fd);
      return Status::Ok();
    }
    ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    ::lseek(fd, 0, SEEK_SET);
    script_fd_ = fd;
    return Status::Ok();
  }

  void remove_staged_script() {
    if (!script_path_.empty()) ::unlink(script_path_.c_str());
    script_path_.clear();
    if (script_fd_ >= 0) ::close(script_fd_);
    script_fd_ = -1;
  }

  void read_output() {
    auto self = shared_from_this();
    output_.async_read_some(asio::buffer(buffer_),
                            [self](const boost::system::error_code& ec, size_t n) {
                              if (n > 0) self->log(std::string_view(self->buffer_.data(), n));
                              if (ec) {
                                self->output_closed_ = true;
                                self->maybe_finish();
                                return;
                              }
                              self->read_output();
                            });
  }

  void log(std::string_view data) {
    if (logged_ < request_.log_limit_bytes) {
      size_t keep = std::min(data.size(), request_.log_limit_bytes - logged_);
      write_all(data.substr(0, keep));
      logged_ += keep;
      data.remove_prefix(keep);
    }
    if (!data.empty() && !truncated_) {
      truncated_ = true;
      write_all("\n[solti: log truncated at " + std::to_string(request_.log_limit_bytes) +
                " bytes]\n");
    }
  }

  void write_all(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(log_fd_, data.data(), data.size());
      if (n <= 0) return;  // a full disk loses log lines, not the attempt
      data.remove_prefix(size_t(n));
    }
  }

  void on_exit() {
    siginfo_t info{};
    ::waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.native_handle(), &info, WEXITED);
    exit_info_ = info;
    exited_ = true;
    // Whatever the leader left behind in its group goes with it.
    ::killpg(pid_, SIGKILL);
    timeout_timer_.cancel();
    kill_timer_.cancel();
    auto self = shared_from_this();
    drain_timer_.expires_after(kOutputGrace);
    drain_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->output_.close();  // ends the pending read
    });
    maybe_finish();
  }

  void stop(Outcome why, std::chrono::milliseconds grace) {
    if (exited_ || finished_ || stop_reason_) return;
    stop_reason_ = why;
    if (grace.count() <= 0) {
      ::killpg(pid_, SIGKILL);
      return;
    }
    ::killpg(pid_, SIGTERM);
    auto self = shared_from_this();
    kill_timer_.expires_after(grace);
    kill_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec && !self->exited_) ::killpg(self->pid_, SIGKILL);
    });
  }

  void maybe_finish() {
    if (!exited_ || !output_closed_ || finished_) return;
    finished_ = true;
    remove_staged_script();
    drain_timer_.cancel();
    if (log_fd_ >= 0) {
      ::close(log_fd_);
      log_fd_ = -1;
    }
    pidfd_.close();
    done_(result());
  }

  AttemptResult result() const {
    AttemptResult r;
    const bool exited = exit_info_.si_code == CLD_EXITED;
    if (exited) {
      r.exit_code = exit_info_.si_status;
    } else {
      r.signal = exit_info_.si_status;
    }
    const std::string how =
        exited ? "process exited with code " + std::to_string(exit_info_.si_status)
               : "process terminated by signal " + std::to_string(exit_info_.si_status) + " (" +
                     sigabbrev_np(exit_info_.si_status) + ")";
    if (stop_reason_ == Outcome::kTimedOut) {
      r.outcome = Outcome::kTimedOut;
      r.reason = "Timeout";
      r.message = "attempt exceeded its timeout of " + request_.spec.timeout->text() +
                  " and was stopped; " + how;
    } else if (stop_reason_ == Outcome::kCanceled) {
      r.outcome = Outcome::kCanceled;
      r.reason = "Canceled";
      r.message = "attempt canceled; " + how;
    } else {
      const bool clean = exited && exit_info_.si_status == 0;
      r.outcome = clean || !effective_fail_on_non_zero(*request_.spec.subprocess)
                      ? Outcome::kSucceeded
                      : Outcome::kFailed;
      r.reason = exited ? "ProcessExited" : "ProcessSignaled";
      r.message = how;
    }
    return r;
  }

  void finish_without_process(const std::string& reason_and_message) {
    AttemptResult r;
    r.outcome = Outcome::kStartFailed;
    size_t bar = reason_and_message.find('|');
    r.reason = reason_and_message.substr(0, bar);
    r.message = bar == std::string::npos ? reason_and_message : reason_and_message.substr(bar + 1);
    if (log_fd_ >= 0) write_all("[solti: " + r.message + "]\n");
    remove_staged_script();
    finished_ = true;
    done_(std::move(r));
  }

  asio::io_context& loop_;
  AttemptRequest request_;
  std::function<void(AttemptResult)> done_;
  pid_t pid_ = -1;
  asio::posix::stream_descriptor pidfd_;
  asio::posix::stream_descriptor output_;
  asio::steady_timer timeout_timer_, kill_timer_, drain_timer_;
  std::array<char, 65536> buffer_{};
  int log_fd_ = -1;
  int script_fd_ = -1;       // the memfd until it is handed to the child
  std::string script_path_;  // the staged file, for node
  size_t logged_ = 0;
  bool truncated_ = false;
  bool exited_ = false;
  bool output_closed_ = false;
  bool finished_ = false;
  std::optional<Outcome> stop_reason_;
  siginfo_t exit_info_{};
};

class SubprocessRunner final : public Runner {
 public:
  explicit SubprocessRunner(asio::io_context& loop) : loop_(loop) {}

  std::string_view name() const override { return "subprocess"; }
  bool supports(const TaskSpec& spec) const override { return spec.subprocess.has_value(); }

  std::shared_ptr<Attempt> start(AttemptRequest request,
                                 std::function<void(AttemptResult)> done) override {
    auto attempt = std::make_shared<SubprocessAttempt>(loop_, std::move(request), std::move(done));
    asio::post(loop_, [attempt] { attempt->begin(); });
    return attempt;
  }

 private:
  asio::io_context& loop_;
};

}  // namespace

std::unique_ptr<Runner> make_subprocess_runner(asio::io_context& loop) {
  return std::make_unique<SubprocessRunner>(loop);
}

size_t kill_orphaned_attempts(std::string_view instance_id) {
  const std::string marker = std::string(kInstanceEnv) + "=" + std::string(instance_id);
  std::set<pid_t> groups;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "environ", std::ios::binary);  // fails for others' processes
    std::string environ((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t start = 0;
    while (start < environ.size()) {
      size_t end = environ.find('\0', start);
      if (end == std::string::npos) end = environ.size();
      if (std::string_view(environ).substr(start, end - start) == marker) {
        const pid_t group = ::getpgid(std::stoi(name));
        if (group > 0 && group != ::getpgrp()) groups.insert(group);
        break;
      }
      start = end + 1;
    }
  }
  for (pid_t group : groups) ::killpg(group, SIGKILL);
  return groups.size();
}

}  // namespace solti::runners
