#include "reconciler/lifecycle.h"

#include <algorithm>

#include "model/duration.h"

namespace solti::reconciler {
namespace {

using runners::Outcome;

bool is_failure_phase(TaskPhase phase) {
  return phase == TaskPhase::kFailed || phase == TaskPhase::kTimeout ||
         phase == TaskPhase::kCanceled || phase == TaskPhase::kExhausted;
}

void set_condition(TaskStatus& status, const std::vector<Condition>& previous, std::string type,
                   ConditionStatus value, std::string_view reason, const std::string& message,
                   Timestamp now) {
  Condition c;
  c.type = std::move(type);
  c.status = value;
  c.observed_generation = status.observed_generation;
  c.reason = std::string(reason);
  c.message = message;
  c.last_transition_time = now;
  auto old = std::find_if(previous.begin(), previous.end(),
                          [&](const Condition& p) { return p.type == c.type; });
  if (old != previous.end() && old->status == c.status && old->last_transition_time)
    c.last_transition_time = old->last_transition_time;
  status.conditions.push_back(std::move(c));
}

}  // namespace

bool is_terminal(const TaskStatus& status) {
  if (!status.phase || status.next_attempt_time) return false;
  return *status.phase == TaskPhase::kSucceeded || is_failure_phase(*status.phase);
}

TaskStatus fresh_status(int64_t generation) {
  TaskStatus s;
  s.observed_generation = generation;
  return s;
}

TaskStatus status_for_start(const Task& task, int64_t attempt, const std::string& runner,
                            Timestamp now) {
  TaskStatus s = task.status;
  s.phase = TaskPhase::kRunning;
  s.attempt = attempt;
  s.exit_code.reset();
  s.reason = std::string(reason::kStarted);
  s.message = "attempt " + std::to_string(attempt) + " started on runner " + runner;
  s.start_time = now;
  s.completion_time.reset();
  s.next_attempt_time.reset();
  s.runner = runner;
  update_conditions(s, task.status.conditions, false, now);
  return s;
}

TaskStatus status_without_attempt(const Task& task, TaskPhase phase, std::string_view why,
                                  const std::string& message, Timestamp now, bool stalled) {
  TaskStatus s = task.status;
  s.phase = phase;
  s.reason = std::string(why);
  s.message = bounded_message(message);
  s.next_attempt_time.reset();
  if (phase != TaskPhase::kPending) s.completion_time = now;
  update_conditions(s, task.status.conditions, stalled, now);
  return s;
}

TaskStatus status_after_attempt(const Task& task, const runners::AttemptResult& result,
                                std::string_view cancel_reason, Timestamp now,
                                RandomSource& random) {
  TaskStatus s = task.status;
  if (result.exit_code) {
    s.exit_code = *result.exit_code;
  } else {
    s.exit_code.reset();
  }
  s.completion_time = now;
  s.next_attempt_time.reset();
  s.reason = result.reason;
  s.message = result.message;
  bool stalled = false;
  const std::string attempt_text = "attempt " + std::to_string(s.attempt) + ": ";

  switch (result.outcome) {
    case Outcome::kSucceeded:
      s.consecutive_failures = 0;
      s.phase = TaskPhase::kSucceeded;
      if (effective_restart_policy(task.spec) == RestartPolicy::kAlways) {
        const auto interval = effective_restart_interval(task.spec);
        s.next_attempt_time = now + interval;
        s.reason = std::string(reason::kWaitingForNextRun);
        s.message = attempt_text + result.message + "; next run in " + format_duration(interval);
      }
      break;
    case Outcome::kCanceled:
      s.phase = TaskPhase::kCanceled;
      if (!cancel_reason.empty()) s.reason = std::string(cancel_reason);
      break;
    case Outcome::kStartFailed:
      s.phase = TaskPhase::kFailed;
      stalled = true;
      break;
    case Outcome::kFailed:
    case Outcome::kTimedOut: {
      s.consecutive_failures += 1;
      const RestartPolicy policy = effective_restart_policy(task.spec);
      const bool budget_left =
          !task.spec.max_retries || s.consecutive_failures <= *task.spec.max_retries;
      if (policy != RestartPolicy::kNever && budget_left) {
        const auto delay = backoff_delay(effective_backoff(task.spec),
                                         uint32_t(s.consecutive_failures - 1), random);
        s.phase = TaskPhase::kPending;
        s.reason = std::string(reason::kBackOff);
        s.message = attempt_text + result.message + "; retrying in " + format_duration(delay);
        s.next_attempt_time = now + delay;
        break;
      }
      s.phase = result.outcome == Outcome::kTimedOut ? TaskPhase::kTimeout : TaskPhase::kExhausted;
      if (policy != RestartPolicy::kNever) {
        s.message = attempt_text + result.message + "; no retries left after " +
                    std::to_string(s.consecutive_failures) + " consecutive failures";
      }
      break;
    }
  }
  s.message = bounded_message(std::move(s.message));
  update_conditions(s, task.status.conditions, stalled, now);
  return s;
}

TaskPhase run_phase(const runners::AttemptResult& result) {
  switch (result.outcome) {
    case Outcome::kSucceeded:
      return TaskPhase::kSucceeded;
    case Outcome::kTimedOut:
      return TaskPhase::kTimeout;
    case Outcome::kCanceled:
      return TaskPhase::kCanceled;
    case Outcome::kFailed:
    case Outcome::kStartFailed:
      break;
  }
  return TaskPhase::kFailed;
}

void update_conditions(TaskStatus& status, const std::vector<Condition>& previous, bool stalled,
                       Timestamp now) {
  status.conditions.clear();
  const TaskPhase phase = status.phase.value_or(TaskPhase::kPending);
  const bool in_progress =
      !stalled && (phase == TaskPhase::kPending || phase == TaskPhase::kRunning);
  // Kubernetes requires a reason on every condition.
  const std::string why = status.reason.empty() ? std::string(enum_name(phase)) : status.reason;
  set_condition(status, previous, "Reconciling",
                in_progress ? ConditionStatus::kTrue : ConditionStatus::kFalse, why,
                in_progress ? status.message : "", now);
  const ConditionStatus succeeded = phase == TaskPhase::kSucceeded ? ConditionStatus::kTrue
                                    : is_failure_phase(phase)      ? ConditionStatus::kFalse
                                                                   : ConditionStatus::kUnknown;
  set_condition(status, previous, "Succeeded", succeeded, why,
                succeeded == ConditionStatus::kUnknown ? "" : status.message, now);
  set_condition(status, previous, "Stalled",
                stalled ? ConditionStatus::kTrue : ConditionStatus::kFalse, why,
                stalled ? status.message : "", now);
}

std::string bounded_message(std::string text) {
  if (text.size() <= kMaxMessageBytes) return text;
  size_t cut = kMaxMessageBytes;
  // Back off to the start of a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text;
}

}  // namespace solti::reconciler
