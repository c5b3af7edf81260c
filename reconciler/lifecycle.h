// The Task lifecycle of DESIGN §5 as pure functions of a Task, an event and
// the time: what the status becomes when an attempt starts, ends, or waits.
// The controller does the I/O; everything here is deterministic given the
// RandomSource, so tests pin every backoff draw.
#pragma once

#include <chrono>
#include <string>

#include "model/backoff.h"
#include "model/task.h"
#include "model/task_run.h"
#include "reconciler/runners/runner.h"

namespace solti::reconciler {

// Reasons the controller writes into status.reason (CamelCase, stable).
namespace reason {
inline constexpr std::string_view kStarted = "AttemptStarted";
inline constexpr std::string_view kBackOff = "BackOff";
inline constexpr std::string_view kWaitingForNextRun = "WaitingForNextRun";
inline constexpr std::string_view kQueued = "Queued";
inline constexpr std::string_view kQueueFull = "QueueFull";
inline constexpr std::string_view kSlotBusy = "SlotBusy";
inline constexpr std::string_view kWaitingForSlot = "WaitingForSlot";
inline constexpr std::string_view kWaitingForCapacity = "WaitingForCapacity";
inline constexpr std::string_view kSupersededByReplace = "SupersededByReplace";
inline constexpr std::string_view kSuspended = "Suspended";
inline constexpr std::string_view kSpecChanged = "SpecChanged";
inline constexpr std::string_view kDeleted = "Deleted";
inline constexpr std::string_view kAgentRestarted = "AgentRestarted";
inline constexpr std::string_view kNoRunner = "NoRunner";
}  // namespace reason

// A Task whose current generation has finished and will not run again.
bool is_terminal(const TaskStatus& status);

// The status of a generation not yet observed: attempt 0, no failures.
TaskStatus fresh_status(int64_t generation);

// Attempt `attempt` starts on `runner`.
TaskStatus status_for_start(const Task& task, int64_t attempt, const std::string& runner,
                            Timestamp now);

// Not running, and why: phase Pending (queued, waiting for a slot or a
// runner) or a terminal phase decided without running (SlotBusy,
// QueueFull, Suspended). `stalled` marks a Task that cannot progress by
// itself (Stalled condition).
TaskStatus status_without_attempt(const Task& task, TaskPhase phase, std::string_view reason,
                                  const std::string& message, Timestamp now, bool stalled = false);

// What the status becomes when the current attempt ended with `result`:
// Succeeded (or, for Always, waiting restartInterval), a retry after the
// backoff delay in nextAttemptTime, or the terminal phase (Failed, Timeout,
// Exhausted, Canceled with `cancel_reason`).
TaskStatus status_after_attempt(const Task& task, const runners::AttemptResult& result,
                                std::string_view cancel_reason, Timestamp now,
                                RandomSource& random);

// The phase a TaskRun records for an attempt's result.
TaskPhase run_phase(const runners::AttemptResult& result);

// Sets Reconciling, Succeeded and Stalled from the phase (DESIGN §4.3);
// a condition keeps its lastTransitionTime while its status is unchanged.
void update_conditions(TaskStatus& status, const std::vector<Condition>& previous, bool stalled,
                       Timestamp now);

// `text` cut to the message limit (32 KiB) on a UTF-8 boundary.
std::string bounded_message(std::string text);

}  // namespace solti::reconciler
