// Starting one child process with everything an attempt needs applied
// between fork and exec: its own process group, stdio and extra fds, a
// working directory, cgroup membership, rlimits, dropped credentials and
// no_new_privs, and a signal state of defaults with nothing blocked.
//
// The child is made with clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD), as
// posix_spawn does, so starting it costs no copy of soltid's memory; unlike
// posix_spawn it can join a cgroup before the program runs, so not even the
// first instruction of the task escapes its limits. The pidfd comes back
// atomically with the pid (no pid-reuse race).
//
// Thread-safe: any thread may call spawn(). Errors are values: a failure
// in the child before exec (no such directory, setuid refused, ...) comes
// back as a Status naming the step, and the child is reaped.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/status.h"

namespace solti::runners {

struct SpawnRequest {
  std::string program;  // the resolved path to execute
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value"
  std::optional<std::string> cwd;
  // (source fd, target fd) pairs: dup2'd in the child. Every other fd is
  // closed at exec, whatever its close-on-exec flag.
  std::vector<std::pair<int, int>> fds;
  std::vector<int> cgroup_procs_fds;  // open cgroup.procs files the child joins
  std::vector<std::pair<int, rlimit>> rlimits;
  std::optional<uid_t> uid;  // with uid: supplementary groups become {gid}
  std::optional<gid_t> gid;
  bool no_new_privs = true;
};

struct SpawnedProcess {
  pid_t pid = -1;
  int pidfd = -1;  // close-on-exec; the caller owns it
};

// The child leads a new process group (pgid == pid).
Result<SpawnedProcess> spawn(const SpawnRequest& request);

}  // namespace solti::runners
