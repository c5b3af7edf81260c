#include "reconciler/housekeeping.h"

#include "model/duration.h"
#include "model/json_codec.h"
#include "model/task_run.h"

namespace solti::reconciler {
namespace {

// "<generation>-<attempt>.log" → the numbers; false for any other name.
bool parse_log_name(const std::string& file, int64_t& generation, int64_t& attempt) {
  return std::sscanf(file.c_str(), "%ld-%ld.log", &generation, &attempt) == 2 &&
         file == std::to_string(generation) + "-" + std::to_string(attempt) + ".log";
}

}  // namespace

Result<std::string> sweep_task_runs(api::Registry& task_runs, Clock& clock,
                                    std::chrono::milliseconds ttl, const runners::StopFlag& stop) {
  auto page = task_runs.list("", api::ListQuery{});
  if (!page.ok()) return page.status();
  const Timestamp cutoff = clock.now() - ttl;
  size_t removed = 0;
  for (const auto& item : page->items) {
    if (stop) break;
    DecodeReport report;
    const TaskRun run = decode_json<TaskRun>(Json::parse(*item), report);
    if (run.status.phase == TaskPhase::kRunning || !run.status.completion_time ||
        *run.status.completion_time > cutoff) {
      continue;
    }
    auto gone = task_runs.remove(run.metadata.namespace_, run.metadata.name, {});
    if (!gone.ok() && gone.status().code() != StatusCode::kNotFound) return gone.status();
    ++removed;
  }
  return "removed " + std::to_string(removed) + " TaskRuns finished more than " +
         format_duration(ttl) + " ago";
}

Result<std::string> clean_up_logs(api::Registry& task_runs, const std::filesystem::path& logs_dir,
                                  const runners::StopFlag& stop) {
  namespace fs = std::filesystem;
  size_t removed = 0;
  std::error_code ec;
  for (const auto& ns : fs::directory_iterator(logs_dir, ec)) {
    for (const auto& task : fs::directory_iterator(ns.path(), ec)) {
      for (const auto& log : fs::directory_iterator(task.path(), ec)) {
        if (stop) return "stopped after removing " + std::to_string(removed) + " logs";
        int64_t generation = 0, attempt = 0;
        if (!parse_log_name(log.path().filename(), generation, attempt)) continue;
        const std::string run = task_run_name(task.path().filename().string(), generation, attempt);
        auto got = task_runs.get(ns.path().filename(), run);
        if (got.ok()) continue;
        if (got.status().code() != StatusCode::kNotFound) return got.status();
        if (fs::remove(log.path(), ec)) ++removed;
      }
      fs::remove(task.path(), ec);  // only when empty
    }
  }
  return "removed " + std::to_string(removed) + " logs of TaskRuns that are gone";
}

void register_housekeeping(runners::EmbeddedRunner& runner, api::Registry& task_runs, Clock& clock,
                           std::chrono::milliseconds ttl, std::filesystem::path logs_dir) {
  runner.register_function(std::string(kTaskRunSweep),
                           [&task_runs, &clock, ttl](const runners::StopFlag& stop) {
                             return sweep_task_runs(task_runs, clock, ttl, stop);
                           });
  runner.register_function(std::string(kLogCleanup),
                           [&task_runs, logs_dir](const runners::StopFlag& stop) {
                             return clean_up_logs(task_runs, logs_dir, stop);
                           });
}

std::vector<Task> housekeeping_tasks(std::chrono::milliseconds interval) {
  std::vector<Task> tasks;
  for (std::string_view function : {kTaskRunSweep, kLogCleanup}) {
    Task task;
    task.metadata.name = std::string(function);
    task.metadata.namespace_ = "solti-system";
    task.metadata.generation = 1;
    task.spec.timeout = Duration::from(std::chrono::seconds(30));
    task.spec.restart_policy = RestartPolicy::kAlways;
    task.spec.restart_interval = Duration::from(interval);
    task.spec.admission = AdmissionPolicy::kReplace;
    task.spec.backoff =
        BackoffSpec{Duration::from(std::chrono::seconds(5)),
                    Duration::from(std::chrono::seconds(60)), 2.0, JitterPolicy::kEqual};
    task.spec.embedded = EmbeddedSpec{std::string(function)};
    tasks.push_back(std::move(task));
  }
  return tasks;
}

}  // namespace solti::reconciler
