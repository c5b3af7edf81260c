// TaskRun: the record of one attempt of one generation of a Task (DESIGN §4.2).
// Written by the reconciler; read-only to users.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "model/task.h"

namespace solti {

inline constexpr std::string_view kTaskRunKind = "TaskRun";
// Label linking a TaskRun to its Task (kubectl get taskruns -l solti.io/task=NAME).
inline constexpr std::string_view kTaskLabel = "solti.io/task";

struct TaskRunSpec {
  std::string task_name;
  int64_t generation = 0;
  int64_t attempt = 0;
  bool operator==(const TaskRunSpec&) const = default;
};

SOLTI_FIELDS(TaskRunSpec) {
  v("taskName", s.task_name, "Name of the Task this attempt belongs to.");
  v("generation", s.generation, "The Task generation the attempt ran.");
  v("attempt", s.attempt, "1-based attempt number within the generation.");
}

struct TaskRunStatus {
  std::optional<TaskPhase> phase;
  std::optional<Timestamp> start_time;
  std::optional<Timestamp> completion_time;
  std::optional<int64_t> exit_code;
  std::string reason;
  std::string message;
  std::string runner;
  bool operator==(const TaskRunStatus&) const = default;
};

SOLTI_FIELDS(TaskRunStatus) {
  v("phase", s.phase, "Running while active, then the attempt's outcome.");
  v("startTime", s.start_time, "When the attempt started.");
  v("completionTime", s.completion_time, "When the attempt finished.");
  v("exitCode", s.exit_code, "Exit code of the process, when it exited.");
  v("reason", s.reason, "Machine-readable reason of the outcome.");
  v("message", s.message, "Human-readable detail of the outcome.");
  v("runner", s.runner, "The runner that ran the attempt.");
}

struct TaskRun {
  std::string api_version{kApiVersion};
  std::string kind{kTaskRunKind};
  ObjectMeta metadata;
  TaskRunSpec spec;
  TaskRunStatus status;
  bool operator==(const TaskRun&) const = default;
};

SOLTI_FIELDS(TaskRun) {
  v("apiVersion", s.api_version, "solti.io/v1");
  v("kind", s.kind, "TaskRun");
  v("metadata", s.metadata, "Standard object metadata.");
  v("spec", s.spec, "Which Task, generation and attempt this run records.");
  v("status", s.status, "Outcome of the attempt.");
}

// "<task>-<generation>-<attempt>". A task name too long to fit is cut and
// followed by a hash of the whole name, so the result is always a valid
// DNS-1123 subdomain (<= 253) and distinct tasks keep distinct names.
std::string task_run_name(std::string_view task_name, int64_t generation, int64_t attempt);

// The value of the solti.io/task label for a task: the name itself when it
// is a valid label value (<= 63), otherwise a cut name and a hash.
std::string task_label_value(std::string_view task_name);

// Where the log of one attempt lives, relative to the logs directory:
// "<namespace>/<task>/<generation>-<attempt>.log". Shared by the writer
// (the reconciler) and the reader (the API's log subresource).
std::string attempt_log_path(std::string_view ns, std::string_view task_name, int64_t generation,
                             int64_t attempt);
// The directory holding every attempt log of a task.
std::string task_log_dir(std::string_view ns, std::string_view task_name);

}  // namespace solti
