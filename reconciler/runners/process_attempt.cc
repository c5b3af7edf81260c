#include "reconciler/runners/process_attempt.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cstring>
#include <sstream>

extern char** environ;

namespace solti::runners {
namespace {

namespace asio = boost::asio;

// How long output may still arrive after the attempt's processes are gone
// (a process that escaped the group may hold the pipe open).
constexpr std::chrono::seconds kOutputGrace{2};
// How long the attempt's cgroup may take to empty after SIGKILL (zombies
// waiting for a reaper) before the attempt is reported anyway.
constexpr int kCgroupRemovalRounds = 500;
constexpr std::chrono::milliseconds kCgroupRemovalInterval{10};

bool is_executable_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string describe_exit(const std::string& what, const siginfo_t& info) {
  if (info.si_code == CLD_EXITED)
    return what + " exited with code " + std::to_string(info.si_status);
  return what + " terminated by signal " + std::to_string(info.si_status) + " (" +
         sigabbrev_np(info.si_status) + ")";
}

const std::optional<ResourceLimits>& resources_of(const TaskSpec& spec) {
  static const std::optional<ResourceLimits> kNone;
  if (spec.subprocess) return spec.subprocess->resources;
  if (spec.container) return spec.container->resources;
  return kNone;
}

}  // namespace

Status start_failure(std::string_view reason, std::string_view message) {
  return Status(StatusCode::kInvalid, std::string(reason) + "|" + std::string(message));
}

std::string find_executable(const std::string& name, const std::string& path) {
  if (name.find('/') != std::string::npos) return is_executable_file(name) ? name : "";
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  return "";
}

std::string find_host_executable(const std::string& name) {
  const char* path = std::getenv("PATH");
  return find_executable(name, path ? path : std::string(kDefaultTaskPath));
}

void append_env(std::vector<std::string>& out, const std::map<std::string, std::string>& env) {
  for (const auto& [name, value] : env) out.push_back(name + "=" + value);
}

std::vector<std::string> host_environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  return env;
}

ProcessAttempt::ProcessAttempt(asio::io_context& loop, AttemptRequest request,
                               std::function<void(AttemptResult)> done, const CgroupHost* cgroups)
    : loop_(loop),
      request_(std::move(request)),
      done_(std::move(done)),
      cgroups_(cgroups),
      pidfd_(loop),
      output_(loop),
      timeout_timer_(loop),
      kill_timer_(loop),
      drain_timer_(loop),
      cgroup_timer_(loop) {}

ProcessAttempt::~ProcessAttempt() {
  if (log_fd_ >= 0) ::close(log_fd_);
  for (int fd : plan_.fds_to_close) ::close(fd);
  for (const auto& file : plan_.files_to_remove) ::unlink(file.c_str());
}

void ProcessAttempt::begin() {
  asio::post(loop_, [self = shared_from_this(), launched = launch()] {
    if (launched.ok()) {
      self->watch();
    } else {
      self->finish_without_process(launched);
    }
  });
}

Status ProcessAttempt::launch() {
  log_fd_ = ::open(request_.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd_ < 0) {
    return start_failure("LogUnavailable",
                         "cannot open " + request_.log_path + ": " + std::strerror(errno));
  }
  auto planned = plan();
  if (!planned.ok()) return planned.status();
  plan_ = std::move(planned).value();
  return spawn_planned();
}

void ProcessAttempt::watch() {
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

void ProcessAttempt::cancel(std::chrono::milliseconds grace) {
  asio::post(loop_, [self = shared_from_this(), grace] { self->stop(Outcome::kCanceled, grace); });
}

Status ProcessAttempt::spawn_planned() {
  if (plan_.cgroup_limits) {
    if (cgroups_ == nullptr || cgroups_->version() == 0) {
      if (plan_.cgroup_limits->any())
        return start_failure("ResourceLimitsUnavailable",
                             "resource limits need cgroups, and this host offers none to soltid");
    } else {
      // Named by this soltid's pid too: a predecessor killed with -9 may
      // leave "1" behind for a moment if its orphan is slow to die, and the
      // new soltid's first attempt must not collide with it.
      static std::atomic<uint64_t> sequence{0};
      auto made = cgroups_->create(std::to_string(::getpid()) + "-" + std::to_string(++sequence),
                                   *plan_.cgroup_limits);
      if (!made.ok()) return start_failure("ResourceLimitsUnavailable", made.status().message());
      cgroup_ = std::move(made).value();
      plan_.spawn.cgroup_procs_fds = cgroup_->procs_fds();
    }
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return start_failure("StartFailed", std::string("pipe: ") + std::strerror(errno));
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  plan_.spawn.fds.insert(plan_.spawn.fds.begin(),
                         {{devnull, 0}, {pipe_fds[1], 1}, {pipe_fds[1], 2}});
  auto spawned = spawn(plan_.spawn);
  ::close(pipe_fds[1]);
  ::close(devnull);
  for (int fd : plan_.fds_to_close) ::close(fd);
  plan_.fds_to_close.clear();
  if (cgroup_) cgroup_->close_procs_fds();
  if (!spawned.ok()) {
    ::close(pipe_fds[0]);
    return start_failure("StartFailed",
                         plan_.spawn.argv.front() + ": " + spawned.status().message());
  }
  pid_ = spawned.value().pid;
  pidfd_.assign(spawned.value().pidfd);
  output_.assign(pipe_fds[0]);
  return Status::Ok();
}

void ProcessAttempt::read_output() {
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

void ProcessAttempt::log(std::string_view data) {
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

void ProcessAttempt::write_all(std::string_view data) {
  while (log_fd_ >= 0 && !data.empty()) {
    ssize_t n = ::write(log_fd_, data.data(), data.size());
    if (n <= 0) return;  // a full disk loses log lines, not the attempt
    data.remove_prefix(size_t(n));
  }
}

std::string ProcessAttempt::log_tail(size_t bytes) const {
  const int fd = ::open(request_.log_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  const off_t size = ::lseek(fd, 0, SEEK_END);
  const off_t from = size > off_t(bytes) ? size - off_t(bytes) : 0;
  std::string text(size_t(size - from), '\0');
  const ssize_t n = ::pread(fd, text.data(), text.size(), from);
  ::close(fd);
  text.resize(n > 0 ? size_t(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

void ProcessAttempt::kill_everything() {
  if (pid_ > 0) ::killpg(pid_, SIGKILL);
  if (cgroup_) cgroup_->kill_all();
}

void ProcessAttempt::on_exit() {
  siginfo_t info{};
  ::waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.native_handle(), &info, WEXITED);
  exit_info_ = info;
  exited_ = true;
  // Whatever the leader left behind goes with it: its group, and with a
  // cgroup also what left the group.
  kill_everything();
  timeout_timer_.cancel();
  kill_timer_.cancel();
  auto self = shared_from_this();
  drain_timer_.expires_after(kOutputGrace);
  drain_timer_.async_wait([self](const boost::system::error_code& ec) {
    if (!ec) self->output_.close();  // ends the pending read
  });
  maybe_finish();
}

void ProcessAttempt::stop(Outcome why, std::chrono::milliseconds grace) {
  if (exited_ || finished_ || stop_reason_) return;
  stop_reason_ = why;
  terminate(grace);
}

void ProcessAttempt::terminate(std::chrono::milliseconds grace) {
  if (grace.count() <= 0) {
    kill_everything();
    return;
  }
  // The group, and with a cgroup also what left the group (setsid, double
  // forks): DESIGN §5 gives every process of the attempt the grace period.
  ::killpg(pid_, SIGTERM);
  if (cgroup_) cgroup_->signal_all(SIGTERM);
  auto self = shared_from_this();
  kill_timer_.expires_after(grace);
  kill_timer_.async_wait([self](const boost::system::error_code& ec) {
    if (!ec && !self->exited_) self->kill_everything();
  });
}

void ProcessAttempt::after_exit(AttemptResult&, std::function<void()> then) { then(); }

void ProcessAttempt::maybe_finish() {
  if (!exited_ || !output_closed_ || cleaning_up_) return;
  cleaning_up_ = true;
  drain_timer_.cancel();
  if (log_fd_ >= 0) {
    ::close(log_fd_);
    log_fd_ = -1;
  }
  // The attempt object lives on until its end is recorded; its descriptors
  // need not, or every exec meanwhile copies and closes them.
  pidfd_.close();
  output_.close();
  oom_killed_ = cgroup_ && cgroup_->oom_killed();
  release_cgroup();
}

// The cgroup can only go once its last member is reaped; until then the
// attempt is not over (a fork bomb may still be dying).
void ProcessAttempt::release_cgroup() {
  if (cgroup_ && !cgroup_->remove() && ++cgroup_rounds_ < kCgroupRemovalRounds) {
    cgroup_->kill_all();
    auto self = shared_from_this();
    cgroup_timer_.expires_after(kCgroupRemovalInterval);
    cgroup_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->release_cgroup();
    });
    return;
  }
  cgroup_.reset();
  auto outcome = std::make_shared<AttemptResult>(result());
  auto self = shared_from_this();
  after_exit(*outcome, [self, outcome] { self->finish(std::move(*outcome)); });
}

AttemptResult ProcessAttempt::result() const {
  AttemptResult r;
  const bool exited = exit_info_.si_code == CLD_EXITED;
  if (exited) {
    r.exit_code = exit_info_.si_status;
  } else {
    r.signal = exit_info_.si_status;
  }
  const std::string how = describe_exit(plan_.what, exit_info_);
  if (stop_reason_ == Outcome::kTimedOut) {
    r.outcome = Outcome::kTimedOut;
    r.reason = "Timeout";
    r.message = "attempt exceeded its timeout of " + request_.spec.timeout->text() +
                " and was stopped; " + how;
  } else if (stop_reason_ == Outcome::kCanceled) {
    r.outcome = Outcome::kCanceled;
    r.reason = "Canceled";
    r.message = "attempt canceled; " + how;
  } else if (oom_killed_) {
    mark_oom_killed(r, request_.spec, how);
  } else {
    const bool clean = exited && exit_info_.si_status == 0;
    r.outcome = clean || !plan_.fail_on_non_zero ? Outcome::kSucceeded : Outcome::kFailed;
    r.reason = exited ? "ProcessExited" : "ProcessSignaled";
    r.message = how;
  }
  return r;
}

void mark_oom_killed(AttemptResult& result, const TaskSpec& spec, const std::string& how) {
  const auto& resources = resources_of(spec);
  const std::string limit =
      resources && resources->memory ? " of " + resources->memory->text() : "";
  result.outcome = Outcome::kFailed;
  result.reason = "OOMKilled";
  result.message = "attempt exceeded its memory limit" + limit + " and was killed; " + how;
}

void ProcessAttempt::finish(AttemptResult result) {
  if (finished_) return;
  finished_ = true;
  for (const auto& file : plan_.files_to_remove) ::unlink(file.c_str());
  plan_.files_to_remove.clear();
  done_(std::move(result));
}

void ProcessAttempt::finish_without_process(const Status& why) {
  AttemptResult r;
  r.outcome = Outcome::kStartFailed;
  const std::string& text = why.message();
  const size_t bar = text.find('|');
  r.reason = bar == std::string::npos ? "StartFailed" : text.substr(0, bar);
  r.message = bar == std::string::npos ? text : text.substr(bar + 1);
  write_all("[solti: " + r.message + "]\n");
  if (log_fd_ >= 0) {
    ::close(log_fd_);
    log_fd_ = -1;
  }
  cgroup_.reset();
  finish(std::move(r));
}

namespace {

struct CommandRun {
  CommandRun(asio::io_context& loop) : pidfd(loop), output(loop) {}
  asio::posix::stream_descriptor pidfd, output;
  std::array<char, 4096> buffer{};
  std::string text;
  int exit_code = -1;
  bool exited = false, closed = false;
  std::function<void(int, std::string)> done;
  void maybe_done() {
    if (exited && closed && done) std::exchange(done, nullptr)(exit_code, std::move(text));
  }
};

Result<std::pair<SpawnedProcess, int>> spawn_command(const std::vector<std::string>& argv) {
  SpawnRequest request;
  request.program = find_host_executable(argv.front());
  if (request.program.empty())
    return Status(StatusCode::kNotFound, argv.front() + ": command not found");
  request.argv = argv;
  request.env = host_environment();
  request.no_new_privs = false;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return Status(StatusCode::kInternal, std::string("pipe: ") + std::strerror(errno));
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  request.fds = {{devnull, 0}, {pipe_fds[1], 1}, {2, 2}};
  auto spawned = spawn(request);
  ::close(devnull);
  ::close(pipe_fds[1]);
  if (!spawned.ok()) {
    ::close(pipe_fds[0]);
    return spawned.status();
  }
  return std::make_pair(spawned.value(), pipe_fds[0]);
}

int exit_code_of(int pidfd) {
  siginfo_t info{};
  if (::waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &info, WEXITED) != 0) return -1;
  return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

void read_command_output(std::shared_ptr<CommandRun> run) {
  run->output.async_read_some(asio::buffer(run->buffer),
                              [run](const boost::system::error_code& ec, size_t n) {
                                run->text.append(run->buffer.data(), n);
                                if (ec) {
                                  run->closed = true;
                                  run->maybe_done();
                                  return;
                                }
                                read_command_output(run);
                              });
}

}  // namespace

void run_command_async(asio::io_context& loop, std::vector<std::string> argv,
                       std::function<void(int, std::string)> done) {
  auto spawned = spawn_command(argv);
  if (!spawned.ok()) {
    asio::post(loop, [done = std::move(done)] { done(-1, ""); });
    return;
  }
  auto run = std::make_shared<CommandRun>(loop);
  run->done = std::move(done);
  run->pidfd.assign(spawned.value().first.pidfd);
  run->output.assign(spawned.value().second);
  run->pidfd.async_wait(asio::posix::stream_descriptor::wait_read,
                        [run](const boost::system::error_code&) {
                          run->exit_code = exit_code_of(run->pidfd.native_handle());
                          run->exited = true;
                          run->maybe_done();
                        });
  read_command_output(run);
}

int run_command(const std::vector<std::string>& argv, std::string* output) {
  auto spawned = spawn_command(argv);
  if (!spawned.ok()) return -1;
  const auto [process, out] = spawned.value();
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(out, buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buffer, size_t(n));
  }
  ::close(out);
  const int code = exit_code_of(process.pidfd);
  ::close(process.pidfd);
  if (output != nullptr) *output = std::move(text);
  return code;
}

}  // namespace solti::runners
