// soltid's housekeeping, run as embedded Tasks (SystemTasks):
//  - taskrun-ttl-sweep: deletes finished TaskRuns older than the TTL
//    (the per-Task count bound is kept by the controller at each start);
//  - log-cleanup: deletes attempt logs whose TaskRun is gone.
// Each function works through the registry like any client, stops early
// when asked, and reports what it did.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "apiserver/registry.h"
#include "model/clock.h"
#include "model/task.h"
#include "reconciler/runners/embedded_runner.h"

namespace solti::reconciler {

inline constexpr std::string_view kTaskRunSweep = "taskrun-ttl-sweep";
inline constexpr std::string_view kLogCleanup = "log-cleanup";

Result<std::string> sweep_task_runs(api::Registry& task_runs, Clock& clock,
                                    std::chrono::milliseconds ttl, const runners::StopFlag& stop);
Result<std::string> clean_up_logs(api::Registry& task_runs, const std::filesystem::path& logs_dir,
                                  const runners::StopFlag& stop);

// Registers both functions with the runner.
void register_housekeeping(runners::EmbeddedRunner& runner, api::Registry& task_runs, Clock& clock,
                           std::chrono::milliseconds ttl, std::filesystem::path logs_dir);

// The housekeeping Tasks: each runs every `interval` (restartPolicy Always),
// with a 30 s timeout and Equal backoff from 5 s to 60 s after a failure,
// as the reference's sweep task.
std::vector<Task> housekeeping_tasks(std::chrono::milliseconds interval);

}  // namespace solti::reconciler
