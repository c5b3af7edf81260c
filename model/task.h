// Task: the desired state of a unit of work (spec) and what was observed of it
// (status), as DESIGN §4.1 describes. Wire types only: optional fields stay
// optional so that a manifest round-trips exactly; the effective value of an
// omitted field comes from the accessors at the bottom (one set of defaults),
// and apply_defaults() writes those defaults into an object (API create path).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/backoff.h"
#include "model/duration.h"
#include "model/env.h"
#include "model/label_selector.h"
#include "model/object_meta.h"
#include "model/quantity.h"

namespace solti {

inline constexpr std::string_view kApiGroup = "solti.io";
inline constexpr std::string_view kApiVersion = "solti.io/v1";
inline constexpr std::string_view kTaskKind = "Task";
// Held on every Task while a reconciler runs it, so that a delete waits for
// the reconciler to stop the attempt and remove its TaskRuns and logs.
inline constexpr std::string_view kRunnerFinalizer = "solti.io/runner";
inline bool has_runner_finalizer(const ObjectMeta& meta) {
  const auto& f = meta.finalizers;
  return std::find(f.begin(), f.end(), kRunnerFinalizer) != f.end();
}

enum class RestartPolicy { kNever, kOnFailure, kAlways };
enum class AdmissionPolicy { kDropIfRunning, kReplace, kQueue };
enum class ScriptRuntime { kBash, kSh, kPython, kNode };
enum class TaskPhase { kPending, kRunning, kSucceeded, kFailed, kTimeout, kCanceled, kExhausted };
enum class ConditionStatus { kTrue, kFalse, kUnknown };

template <>
struct EnumNames<RestartPolicy> {
  static constexpr std::array<std::pair<RestartPolicy, std::string_view>, 3> values{{
      {RestartPolicy::kNever, "Never"},
      {RestartPolicy::kOnFailure, "OnFailure"},
      {RestartPolicy::kAlways, "Always"},
  }};
};
template <>
struct EnumNames<AdmissionPolicy> {
  static constexpr std::array<std::pair<AdmissionPolicy, std::string_view>, 3> values{{
      {AdmissionPolicy::kDropIfRunning, "DropIfRunning"},
      {AdmissionPolicy::kReplace, "Replace"},
      {AdmissionPolicy::kQueue, "Queue"},
  }};
};
template <>
struct EnumNames<JitterPolicy> {
  static constexpr std::array<std::pair<JitterPolicy, std::string_view>, 4> values{{
      {JitterPolicy::kNone, "None"},
      {JitterPolicy::kFull, "Full"},
      {JitterPolicy::kEqual, "Equal"},
      {JitterPolicy::kDecorrelated, "Decorrelated"},
  }};
};
template <>
struct EnumNames<ScriptRuntime> {
  static constexpr std::array<std::pair<ScriptRuntime, std::string_view>, 4> values{{
      {ScriptRuntime::kBash, "bash"},
      {ScriptRuntime::kSh, "sh"},
      {ScriptRuntime::kPython, "python"},
      {ScriptRuntime::kNode, "node"},
  }};
};
template <>
struct EnumNames<TaskPhase> {
  static constexpr std::array<std::pair<TaskPhase, std::string_view>, 7> values{{
      {TaskPhase::kPending, "Pending"},
      {TaskPhase::kRunning, "Running"},
      {TaskPhase::kSucceeded, "Succeeded"},
      {TaskPhase::kFailed, "Failed"},
      {TaskPhase::kTimeout, "Timeout"},
      {TaskPhase::kCanceled, "Canceled"},
      {TaskPhase::kExhausted, "Exhausted"},
  }};
};
template <>
struct EnumNames<ConditionStatus> {
  static constexpr std::array<std::pair<ConditionStatus, std::string_view>, 3> values{{
      {ConditionStatus::kTrue, "True"},
      {ConditionStatus::kFalse, "False"},
      {ConditionStatus::kUnknown, "Unknown"},
  }};
};
constexpr bool is_terminal(TaskPhase phase) {
  return phase != TaskPhase::kPending && phase != TaskPhase::kRunning;
}

// --- spec ------------------------------------------------------------------

struct ResourceLimits {
  std::optional<Quantity> memory;     // bytes, e.g. 64Mi
  std::optional<Quantity> cpu;        // cores, e.g. 500m
  std::optional<int64_t> pids;        // maximum number of processes
  std::optional<int64_t> open_files;  // RLIMIT_NOFILE
  std::optional<Quantity> file_size;  // RLIMIT_FSIZE, bytes
  bool operator==(const ResourceLimits&) const = default;
};

SOLTI_FIELDS(ResourceLimits) {
  v("memory", s.memory,
    "Memory limit, e.g. 64Mi. Exceeding it fails the attempt with reason OOMKilled.");
  v("cpu", s.cpu, "CPU limit in cores, e.g. 500m or 2.");
  v("pids", s.pids, "Maximum number of processes and threads.");
  v("openFiles", s.open_files, "Maximum number of open files per process (RLIMIT_NOFILE).");
  v("fileSize", s.file_size,
    "Largest file a process may write, e.g. 100Mi (RLIMIT_FSIZE; past it: SIGXFSZ).");
}

struct Script {
  std::optional<ScriptRuntime> runtime;
  std::string body;
  bool operator==(const Script&) const = default;
};

SOLTI_FIELDS(Script) {
  v("runtime", s.runtime, "Interpreter: bash, sh, python or node.");
  v("body", s.body, "Script text (UTF-8, at most 2 MiB), passed to the interpreter as a file.");
}

struct SubprocessSpec {
  std::optional<std::string> command;
  std::optional<Script> script;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  std::optional<std::string> cwd;
  std::optional<bool> fail_on_non_zero;
  std::optional<ResourceLimits> resources;
  std::optional<int64_t> run_as_user;
  std::optional<int64_t> run_as_group;
  bool operator==(const SubprocessSpec&) const = default;
};

SOLTI_FIELDS(SubprocessSpec) {
  v("command", s.command,
    "Executable to run (absolute path or looked up in PATH). Exclusive with script.");
  v("script", s.script, "Script to run with an interpreter. Exclusive with command.");
  v("args", s.args, "Arguments passed to the command or script.");
  v("env", s.env, "Environment variables; the environment is otherwise cleared except PATH.");
  v("cwd", s.cwd, "Absolute working directory; must exist.");
  v("failOnNonZero", s.fail_on_non_zero,
    "Whether a non-zero exit or a signal fails the attempt (default true).");
  v("resources", s.resources, "Resource limits for the attempt's processes.");
  v("runAsUser", s.run_as_user, "Numeric user id to run as (soltid must run as root).");
  v("runAsGroup", s.run_as_group, "Numeric group id to run as (soltid must run as root).");
}

struct WasmSpec {
  std::string module;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  bool operator==(const WasmSpec&) const = default;
};

SOLTI_FIELDS(WasmSpec) {
  v("module", s.module, "Absolute path of a WASI preview 1 module (.wasm).");
  v("args", s.args, "Arguments passed to the module.");
  v("env", s.env, "Environment variables visible to the module.");
}

struct ContainerSpec {
  std::string image;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  std::optional<ResourceLimits> resources;
  bool operator==(const ContainerSpec&) const = default;
};

SOLTI_FIELDS(ContainerSpec) {
  v("image", s.image, "OCI image reference, available locally to the container engine.");
  v("command", s.command, "Overrides the image entrypoint.");
  v("args", s.args, "Overrides the image command.");
  v("env", s.env, "Environment variables for the container.");
  v("resources", s.resources, "Resource limits for the container.");
}

// In-process work registered by name inside soltid (housekeeping). Never
// accepted through the API.
struct EmbeddedSpec {
  std::string function;
  bool operator==(const EmbeddedSpec&) const = default;
};

SOLTI_FIELDS(EmbeddedSpec) {
  v("function", s.function, "Name of a function registered inside soltid.");
}

struct BackoffSpec {
  std::optional<Duration> first;
  std::optional<Duration> max;
  std::optional<double> factor;
  std::optional<JitterPolicy> jitter;
  bool operator==(const BackoffSpec&) const = default;
};

SOLTI_FIELDS(BackoffSpec) {
  v("first", s.first, "Delay before the first retry (default 1s).");
  v("max", s.max, "Upper bound of the delay (default 30s).");
  v("factor", s.factor, "Growth factor per consecutive failure, >= 1 (default 2).");
  v("jitter", s.jitter, "None, Full (default), Equal or Decorrelated.");
}

struct TaskSpec {
  std::optional<std::string> slot;
  std::optional<Duration> timeout;
  std::optional<RestartPolicy> restart_policy;
  std::optional<Duration> restart_interval;
  std::optional<int64_t> max_retries;
  std::optional<BackoffSpec> backoff;
  std::optional<AdmissionPolicy> admission;
  std::optional<Duration> termination_grace_period;
  std::optional<bool> suspend;
  std::optional<LabelSelector> runner_selector;
  std::optional<std::string> rerun_token;
  std::optional<SubprocessSpec> subprocess;
  std::optional<WasmSpec> wasm;
  std::optional<ContainerSpec> container;
  std::optional<EmbeddedSpec> embedded;
  bool operator==(const TaskSpec&) const = default;
};

SOLTI_FIELDS(TaskSpec) {
  v("slot", s.slot,
    "Admission lane: at most one attempt runs per slot and namespace. Defaults to metadata.name.");
  v("timeout", s.timeout, "Per-attempt time limit, e.g. 30s or 10m. Required.");
  v("restartPolicy", s.restart_policy, "Never (default), OnFailure or Always.");
  v("restartInterval", s.restart_interval,
    "With Always: pause after a successful attempt before the next one (default 0).");
  v("maxRetries", s.max_retries,
    "Retries after consecutive failures (N allows N+1 attempts); omit for unlimited.");
  v("backoff", s.backoff, "Delay between a failed attempt and its retry.");
  v("admission", s.admission,
    "What happens when the slot is busy: DropIfRunning (default), Replace or Queue.");
  v("terminationGracePeriod", s.termination_grace_period,
    "Time between SIGTERM and SIGKILL on cancel, timeout and delete (default 10s).");
  v("suspend", s.suspend, "True cancels a running attempt and starts nothing new.");
  v("runnerSelector", s.runner_selector, "Label selector choosing the runner by its labels.");
  v("rerunToken", s.rerun_token,
    "Changing this value starts the Task again as a new generation (soltictl rerun).");
  v("subprocess", s.subprocess, "Run a host process. Exactly one of subprocess, wasm, container.");
  v("wasm", s.wasm, "Run a WebAssembly (WASI) module. Exactly one of subprocess, wasm, container.");
  v("container", s.container, "Run an OCI container. Exactly one of subprocess, wasm, container.");
  v("embedded", s.embedded, "In-process work; internal to soltid, rejected by the API.");
}

// --- status ----------------------------------------------------------------

struct Condition {
  std::string type;
  std::optional<ConditionStatus> status;
  int64_t observed_generation = 0;
  std::optional<Timestamp> last_transition_time;
  std::string reason;
  std::string message;
  bool operator==(const Condition&) const = default;
};

SOLTI_FIELDS(Condition) {
  v("type", s.type, "Reconciling, Succeeded or Stalled.");
  v("status", s.status, "True, False or Unknown.");
  v("observedGeneration", s.observed_generation, "The generation this condition was set for.");
  v("lastTransitionTime", s.last_transition_time, "When the status last changed.");
  v("reason", s.reason, "Machine-readable CamelCase reason.");
  v("message", s.message, "Human-readable detail.");
}

struct TaskStatus {
  std::optional<TaskPhase> phase;
  int64_t attempt = 0;
  std::optional<int64_t> exit_code;
  std::string reason;
  std::string message;
  int64_t observed_generation = 0;
  int64_t consecutive_failures = 0;
  std::optional<Timestamp> start_time;
  std::optional<Timestamp> completion_time;
  std::optional<Timestamp> next_attempt_time;
  std::string runner;
  std::vector<Condition> conditions;
  bool operator==(const TaskStatus&) const = default;
};

SOLTI_FIELDS(TaskStatus) {
  v("phase", s.phase, "Pending, Running, Succeeded, Failed, Timeout, Canceled or Exhausted.");
  v("attempt", s.attempt, "Attempts started for the observed generation (1-based).");
  v("exitCode", s.exit_code, "Exit code of the last finished attempt.");
  v("reason", s.reason, "Why the Task is in its phase, e.g. SlotBusy, QueueFull, AgentRestarted.");
  v("message", s.message, "Human-readable detail of the last outcome (at most 32 KiB).");
  v("observedGeneration", s.observed_generation, "The generation the status describes.");
  v("consecutiveFailures", s.consecutive_failures,
    "Failures since the last success; the exponent of the backoff.");
  v("startTime", s.start_time, "When the current attempt started.");
  v("completionTime", s.completion_time, "When the last attempt finished.");
  v("nextAttemptTime", s.next_attempt_time,
    "When the next attempt is due (retry or periodic run).");
  v("runner", s.runner, "The runner that ran the current attempt.");
  v("conditions", s.conditions, "Reconciling, Succeeded and Stalled, for health checks.");
}

struct Task {
  std::string api_version{kApiVersion};
  std::string kind{kTaskKind};
  ObjectMeta metadata;
  TaskSpec spec;
  TaskStatus status;
  bool operator==(const Task&) const = default;
};

SOLTI_FIELDS(Task) {
  v("apiVersion", s.api_version, "solti.io/v1");
  v("kind", s.kind, "Task");
  v("metadata", s.metadata, "Standard object metadata.");
  v("spec", s.spec, "Desired state: what to run and how.");
  v("status", s.status, "Observed state, written by the reconciler.");
}

// --- defaults: the effective value of every optional spec field -------------

inline constexpr RestartPolicy kDefaultRestartPolicy = RestartPolicy::kNever;
inline constexpr AdmissionPolicy kDefaultAdmission = AdmissionPolicy::kDropIfRunning;
inline constexpr std::chrono::milliseconds kDefaultBackoffFirst{1000};
inline constexpr std::chrono::milliseconds kDefaultBackoffMax{30000};
inline constexpr double kDefaultBackoffFactor = 2.0;
inline constexpr JitterPolicy kDefaultJitter = JitterPolicy::kFull;
inline constexpr std::chrono::milliseconds kDefaultTerminationGracePeriod{10000};
inline constexpr size_t kMaxScriptBodyBytes = 2 * 1024 * 1024;
inline constexpr size_t kMaxAnnotationsBytes = 256 * 1024;
inline constexpr size_t kMaxMessageBytes = 32 * 1024;
inline constexpr size_t kMaxSlotQueueDepth = 100;

std::string effective_slot(const Task& task);
RestartPolicy effective_restart_policy(const TaskSpec& spec);
AdmissionPolicy effective_admission(const TaskSpec& spec);
BackoffParams effective_backoff(const TaskSpec& spec);
std::chrono::milliseconds effective_termination_grace(const TaskSpec& spec);
std::chrono::milliseconds effective_restart_interval(const TaskSpec& spec);
bool effective_suspend(const TaskSpec& spec);
bool effective_fail_on_non_zero(const SubprocessSpec& spec);

// Writes the effective value of every omitted, defaultable field into `task`
// (what the API server stores, so that `get -o yaml` shows what will run).
void apply_defaults(Task& task);

// "subprocess", "wasm", "container", "embedded", or "" when none is set.
std::string_view task_kind_name(const TaskSpec& spec);

}  // namespace solti
