// The subprocess runner: host processes for spec.subprocess.
//
// Each attempt runs in its own process group with an environment of PATH
// plus the Task's env (the runner's env wins), stdin from /dev/null, and
// stdout and stderr together in the attempt's log file up to a size cap.
// Script bodies reach the interpreter as a sealed memfd (/dev/fd/3), never
// on the command line. The attempt's timeout and cancel() send SIGTERM to
// the group and SIGKILL after the grace period; when the leader exits, the
// rest of its group (and of its cgroup) is killed, so nothing it started
// in the background outlives it. Children are watched through pidfds on
// the event loop.
//
// spec.subprocess.resources become cgroup limits (memory, pids, cpu: a
// start failure, ResourceLimitsUnavailable, where the host cannot enforce
// them) and rlimits (openFiles, fileSize); core dumps are always off. Every
// attempt runs with no_new_privs; runAsUser/runAsGroup need soltid to run
// as root.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "reconciler/runners/cgroup.h"
#include "reconciler/runners/runner.h"

namespace solti::runners {

// What the host-process runners (subprocess, wasm) share.
struct HostRunnerOptions {
  std::string instance_id;                    // remove_leftovers() looks for it
  std::shared_ptr<const CgroupHost> cgroups;  // null: no cgroups (limits fail to start)
};

std::unique_ptr<Runner> make_subprocess_runner(boost::asio::io_context& loop,
                                               HostRunnerOptions options = {});

// Every attempt's environment carries kInstanceEnv=<soltid instance id>
// (through AttemptRequest::runner_env), so that a soltid restarted after a
// kill -9 can find what its predecessor left running (remove_leftovers()
// kills the process group of every process whose environment has that pair).
inline constexpr std::string_view kInstanceEnv = "SOLTI_INSTANCE";

}  // namespace solti::runners
