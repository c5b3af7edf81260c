// Runners execute one attempt of a Task (DESIGN §9). The reconciler picks a
// runner by kind and labels, starts an attempt, may cancel it, and learns
// its outcome through one callback.
//
// Threading: a runner lives on one event loop (boost::asio::io_context) and
// all its callbacks run there; start() and cancel() may be called from any
// thread, and start() may do its blocking part (a spawn) on the caller's.
// No thread is used per attempt.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/task.h"

namespace solti::runners {

enum class Outcome {
  kSucceeded,    // exit 0 (or any exit with failOnNonZero: false)
  kFailed,       // non-zero exit or killed by a signal: retryable
  kTimedOut,     // exceeded spec.timeout and was stopped: retryable
  kCanceled,     // cancel() was called
  kStartFailed,  // could not start (no such command, bad cwd): fatal, no retry
};

struct AttemptResult {
  Outcome outcome = Outcome::kFailed;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string reason;   // CamelCase, e.g. ProcessExited, Timeout, CommandNotFound
  std::string message;  // human text
};

struct AttemptRequest {
  std::string id;  // names the attempt in messages, e.g. "default/backup#3"
  TaskSpec spec;
  std::vector<EnvVar> runner_env;  // wins over the Task's on a clash
  std::string log_path;            // created or truncated
  size_t log_limit_bytes = 10 * 1024 * 1024;
};

class Attempt {
 public:
  virtual ~Attempt() = default;
  // SIGTERM to everything the attempt started, SIGKILL after `grace`. The
  // outcome becomes kCanceled unless the attempt had already finished.
  virtual void cancel(std::chrono::milliseconds grace) = 0;
};

class Runner {
 public:
  virtual ~Runner() = default;
  virtual std::string_view name() const = 0;
  virtual bool supports(const TaskSpec& spec) const = 0;
  // Starts the attempt. `done` runs exactly once, on the runner's loop, after
  // every process of the attempt is gone and its log is complete.
  virtual std::shared_ptr<Attempt> start(AttemptRequest request,
                                         std::function<void(AttemptResult)> done) = 0;
  // Stops and removes whatever a previous soltid of this data directory
  // left running (after a kill -9); called once, before the first start().
  // Returns how many leftovers it removed.
  virtual size_t remove_leftovers() { return 0; }
};

}  // namespace solti::runners
