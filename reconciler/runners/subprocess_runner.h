// The subprocess runner: host processes for spec.subprocess.
//
// Each attempt runs in its own process group with an environment of PATH
// plus the Task's env (the runner's env wins), stdin from /dev/null, and
// stdout and stderr together in the attempt's log file up to a size cap.
// Script bodies reach the interpreter as a sealed memfd (/dev/fd/3), never
// on the command line. The attempt's timeout and cancel() send SIGTERM to
// the group and SIGKILL after the grace period; when the leader exits, the
// rest of its group is killed, so nothing it started in the background
// outlives it. Children are watched through pidfds on the event loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "reconciler/runners/runner.h"

namespace solti::runners {

std::unique_ptr<Runner> make_subprocess_runner(boost::asio::io_context& loop);

// Every attempt's environment carries kInstanceEnv=<soltid instance id>
// (through AttemptRequest::runner_env), so that a soltid restarted after a
// kill -9 can find what its predecessor left running: this SIGKILLs the
// process group of every process whose environment has that pair and
// returns how many groups it killed.
inline constexpr std::string_view kInstanceEnv = "SOLTI_INSTANCE";
size_t kill_orphaned_attempts(std::string_view instance_id);

}  // namespace solti::runners
