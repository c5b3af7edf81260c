// Control groups for attempts: limits (memory, pids, cpu) that hold for
// every process an attempt starts, a way to find and kill all of them even
// when they left the process group, and whether the kernel OOM-killed one.
//
// soltid makes `solti-<instance>` inside its own cgroup (in every v1
// hierarchy it uses, or in the v2 tree) and one directory per attempt in
// it. On cgroup v2 the controllers must be enabled for that subtree; when
// soltid's own cgroup holds processes, which v2 forbids for a cgroup that
// delegates controllers, soltid first moves itself into a `soltid` leaf.
//
// Thread safety: a CgroupHost is immutable after detect(); an
// AttemptCgroup belongs to one attempt on one thread. Errors are Status
// values whose message names the file.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "model/status.h"

namespace solti::runners {

struct CgroupLimits {
  std::optional<int64_t> memory_bytes;
  std::optional<int64_t> pids;
  std::optional<int64_t> cpu_millicores;
  bool any() const { return memory_bytes || pids || cpu_millicores; }
};

class AttemptCgroup;

class CgroupHost {
 public:
  // What /proc/self/cgroup and /proc/self/mountinfo say (their text is
  // passed in so tests can describe a host); creates the instance
  // directory. version() is 0 when nothing usable was found.
  static CgroupHost detect(const std::string& self_cgroup, const std::string& mountinfo,
                           const std::string& instance_id);
  static CgroupHost detect_this_host(const std::string& instance_id);

  int version() const { return version_; }
  bool has(const std::string& controller) const { return dirs_.count(controller) > 0; }
  // "cgroup v1 (memory, pids)" or "no cgroups": for logs and messages.
  std::string describe() const;

  // A fresh cgroup for an attempt with these limits. Fails when a limit
  // needs a controller this host lacks, or when the kernel refuses.
  Result<std::unique_ptr<AttemptCgroup>> create(const std::string& name,
                                                const CgroupLimits& limits) const;
  // Kills and removes every attempt cgroup a previous soltid of this
  // instance left behind; returns how many it removed.
  size_t remove_leftovers() const;
  // Removes this instance's (empty) directories: at shutdown.
  void remove_instance_dirs() const;

 private:
  int version_ = 0;
  // controller → this instance's directory in the hierarchy holding it. On
  // v2 every controller maps to the same directory.
  std::map<std::string, std::filesystem::path> dirs_;
};

class AttemptCgroup {
 public:
  ~AttemptCgroup();
  // cgroup.procs of every directory, opened for the child to join.
  const std::vector<int>& procs_fds() const { return procs_fds_; }
  void close_procs_fds();

  std::set<pid_t> members() const;
  bool empty() const { return members().empty(); }
  // SIGKILLs every member once; call until empty() (a fork bomb may add
  // members between the read and the kill until its pids limit stops it).
  void kill_all() const;
  // Sends `signal` to every member once: the SIGTERM of a graceful stop,
  // for members that left the attempt's process group.
  void signal_all(int signal) const;
  bool oom_killed() const;
  // rmdir of every directory; false while a member (or zombie) remains.
  bool remove();

 private:
  friend class CgroupHost;
  int version_ = 0;
  std::vector<std::filesystem::path> dirs_;
  std::optional<std::filesystem::path> memory_dir_;
  std::vector<int> procs_fds_;
};

}  // namespace solti::runners
