#include "reconciler/runners/spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace solti::runners {
namespace {

// Everything the child touches is prepared by the parent: between clone and
// exec the child shares soltid's memory and may only make system calls.
struct ChildContext {
  const SpawnRequest* request = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int* moved_fds = nullptr;  // one per request->fds entry
  int first_free_fd = 3;     // above every target fd
  // Written by the child when a step fails; read by the parent after the
  // vfork-style clone returns.
  int error = 0;
  const char* failed_step = nullptr;
};

[[noreturn]] void fail(ChildContext& ctx, const char* step) {
  ctx.error = errno;
  ctx.failed_step = step;
  _exit(127);
}

int child_main(void* arg) {
  ChildContext& ctx = *static_cast<ChildContext*>(arg);
  const SpawnRequest& req = *ctx.request;

  struct sigaction defaults {};
  defaults.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &defaults, nullptr);  // glibc-internal signals refuse: fine
  }
  if (::setpgid(0, 0) != 0) fail(ctx, "setpgid");
  for (int fd : req.cgroup_procs_fds) {
    if (::write(fd, "0", 1) != 1) fail(ctx, "join cgroup");
  }
  // Sources first move above every target so that no dup2 overwrites a
  // source still to be used.
  for (size_t i = 0; i < req.fds.size(); ++i) {
    ctx.moved_fds[i] = ::fcntl(req.fds[i].first, F_DUPFD_CLOEXEC, ctx.first_free_fd);
    if (ctx.moved_fds[i] < 0) fail(ctx, "dup");
  }
  for (size_t i = 0; i < req.fds.size(); ++i) {
    if (::dup2(ctx.moved_fds[i], req.fds[i].second) < 0) fail(ctx, "dup2");
  }
  for (int fd = 0; fd < ctx.first_free_fd; ++fd) {
    bool is_target = false;
    for (const auto& [source, target] : req.fds) is_target |= target == fd;
    if (!is_target) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  ::syscall(SYS_close_range, ctx.first_free_fd, ~0U, CLOSE_RANGE_CLOEXEC);

  for (const auto& [resource, limit] : req.rlimits) {
    if (::setrlimit(static_cast<__rlimit_resource>(resource), &limit) != 0) fail(ctx, "setrlimit");
  }
  if (req.gid) {
    const gid_t gid = *req.gid;
    if (::setgroups(1, &gid) != 0) fail(ctx, "setgroups");
    if (::setresgid(gid, gid, gid) != 0) fail(ctx, "setgid");
  }
  if (req.uid && ::setresuid(*req.uid, *req.uid, *req.uid) != 0) fail(ctx, "setuid");
  // After the credentials, so that the directory is checked as the task's user.
  if (req.cwd && ::chdir(req.cwd->c_str()) != 0) fail(ctx, "chdir");
  if (req.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(ctx, "no_new_privs");

  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(req.program.c_str(), ctx.argv, ctx.envp);
  fail(ctx, "exec");
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<SpawnedProcess> spawn(const SpawnRequest& request) {
  std::vector<char*> argv = c_strings(request.argv);
  std::vector<char*> envp = c_strings(request.env);
  std::vector<int> moved(request.fds.size(), -1);
  ChildContext ctx;
  ctx.request = &request;
  ctx.argv = argv.data();
  ctx.envp = envp.data();
  ctx.moved_fds = moved.data();
  for (const auto& [source, target] : request.fds)
    ctx.first_free_fd = std::max(ctx.first_free_fd, target + 1);

  constexpr size_t kStackSize = 64 * 1024;
  std::unique_ptr<char[]> stack(new char[kStackSize]);

  // No signal handler of soltid's may run on the child's side of the shared
  // memory before the child has reset them all.
  sigset_t all, previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  int pidfd = -1;
  const pid_t pid = ::clone(child_main, stack.get() + kStackSize,
                            CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &ctx, &pidfd);
  const int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);

  if (pid < 0) return Status(StatusCode::kInternal, std::string("clone: ") + strerror(clone_errno));
  if (ctx.failed_step != nullptr) {
    siginfo_t info;
    ::waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &info, WEXITED);
    ::close(pidfd);
    return Status(StatusCode::kInternal, std::string(ctx.failed_step) + ": " + strerror(ctx.error));
  }
  return SpawnedProcess{pid, pidfd};
}

}  // namespace solti::runners
