#include "model/task.h"

namespace solti {

std::string effective_slot(const Task& task) { return task.spec.slot.value_or(task.metadata.name); }

RestartPolicy effective_restart_policy(const TaskSpec& spec) {
  return spec.restart_policy.value_or(kDefaultRestartPolicy);
}

AdmissionPolicy effective_admission(const TaskSpec& spec) {
  return spec.admission.value_or(kDefaultAdmission);
}

BackoffParams effective_backoff(const TaskSpec& spec) {
  BackoffParams params{kDefaultBackoffFirst, kDefaultBackoffMax, kDefaultBackoffFactor,
                       kDefaultJitter};
  if (!spec.backoff) return params;
  const BackoffSpec& b = *spec.backoff;
  if (b.first) params.first = b.first->millis();
  if (b.max) params.max = b.max->millis();
  if (b.factor) params.factor = *b.factor;
  if (b.jitter) params.jitter = *b.jitter;
  return params;
}

std::chrono::milliseconds effective_termination_grace(const TaskSpec& spec) {
  return spec.termination_grace_period ? spec.termination_grace_period->millis()
                                       : kDefaultTerminationGracePeriod;
}

std::chrono::milliseconds effective_restart_interval(const TaskSpec& spec) {
  return spec.restart_interval ? spec.restart_interval->millis() : std::chrono::milliseconds(0);
}

bool effective_suspend(const TaskSpec& spec) { return spec.suspend.value_or(false); }

bool effective_fail_on_non_zero(const SubprocessSpec& spec) {
  return spec.fail_on_non_zero.value_or(true);
}

void apply_defaults(Task& task) {
  TaskSpec& spec = task.spec;
  if (!spec.slot) spec.slot = effective_slot(task);
  if (!spec.restart_policy) spec.restart_policy = kDefaultRestartPolicy;
  if (!spec.admission) spec.admission = kDefaultAdmission;
  if (!spec.termination_grace_period)
    spec.termination_grace_period = Duration::from(kDefaultTerminationGracePeriod);
  if (!spec.suspend) spec.suspend = false;
  BackoffSpec& backoff = spec.backoff ? *spec.backoff : spec.backoff.emplace();
  if (!backoff.first) backoff.first = Duration::from(kDefaultBackoffFirst);
  if (!backoff.max) backoff.max = Duration::from(kDefaultBackoffMax);
  if (!backoff.factor) backoff.factor = kDefaultBackoffFactor;
  if (!backoff.jitter) backoff.jitter = kDefaultJitter;
  if (spec.subprocess && !spec.subprocess->fail_on_non_zero)
    spec.subprocess->fail_on_non_zero = true;
}

std::string_view task_kind_name(const TaskSpec& spec) {
  if (spec.subprocess) return "subprocess";
  if (spec.wasm) return "wasm";
  if (spec.container) return "container";
  if (spec.embedded) return "embedded";
  return "";
}

}  // namespace solti
