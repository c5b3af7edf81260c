#include "apiserver/resources.h"

#include "apiserver/openapi_schema.h"
#include "model/json_codec.h"
#include "model/manifest.h"
#include "model/task.h"
#include "model/task_run.h"
#include "model/validation.h"

namespace solti::api {
namespace {

template <class T>
T decode(const Json& object) {
  DecodeReport ignored;  // objects reaching the strategy were checked already
  return decode_json<T>(object, ignored);
}

Json column(std::string name, std::string type, std::string description, int priority = 0,
            std::string format = "") {
  Json c = {{"name", std::move(name)},
            {"type", std::move(type)},
            {"format", std::move(format)},
            {"description", std::move(description)},
            {"priority", priority}};
  return c;
}

std::string age_cell(const ObjectMeta& meta, Timestamp now) {
  if (!meta.creation_timestamp) return "<unknown>";
  return human_duration(now - *meta.creation_timestamp);
}

std::string phase_name(const std::optional<TaskPhase>& phase) {
  return phase ? std::string(enum_name(*phase)) : "";
}

Json schema_with_gvk(Json schema, const ResourceInfo& info, std::string description) {
  schema["description"] = std::move(description);
  schema["x-kubernetes-group-version-kind"] =
      Json::array({{{"group", info.group}, {"kind", info.kind}, {"version", info.version}}});
  return schema;
}

class TaskStrategy final : public Strategy {
 public:
  explicit TaskStrategy(bool runner_finalizer)
      : info_{"solti.io",       "v1", "tasks", "task", "Task", {"tk"},
              {"all", "solti"}, true, true,    true},
        runner_finalizer_(runner_finalizer) {}

  const ResourceInfo& info() const override { return info_; }

  Checked check(const Json& object) const override { return checked(object, false); }

  FieldErrors validate(const Json& object) const override {
    return validate_task(decode<Task>(object), Origin::kApi);
  }

  void prepare_for_create(Json& object) const override {
    Task task = decode<Task>(object);
    prepare_new(task);
    object = encode_json(task);
  }

  Checked check_for_create(const Json& object) const override { return checked(object, true); }

  void prepare_for_update(Json& object, const Json& old) const override {
    Task task = decode<Task>(object);
    const Task previous = decode<Task>(old);
    apply_defaults(task);
    task.status = previous.status;
    task.metadata.generation = previous.metadata.generation + (task.spec == previous.spec ? 0 : 1);
    object = encode_json(task);
  }

  void prepare_for_status_update(Json& object, const Json& old) const override {
    Task task = decode<Task>(old);
    task.status = decode<Task>(object).status;
    object = encode_json(task);
  }

  std::vector<std::string_view> selectable_fields() const override {
    return {"spec.slot", "status.phase"};
  }

  std::string field_value(const Json& object, std::string_view field) const override {
    const Task task = decode<Task>(object);
    if (field == "spec.slot") return effective_slot(task);
    if (field == "status.phase") return phase_name(task.status.phase);
    return "";
  }

  Json table_columns() const override {
    return Json::array({
        column("Name", "string", "Name of the Task", 0, "name"),
        column("Slot", "string", "Admission slot"),
        column("Phase", "string", "Phase of the current generation"),
        column("Attempt", "integer", "Attempts of the current generation"),
        column("Exit", "string", "Exit code of the last finished attempt"),
        column("Age", "date", "Time since creation"),
        column("Kind", "string", "subprocess, wasm or container", 1),
        column("Restart", "string", "Restart policy", 1),
        column("Reason", "string", "Why the Task is in its phase", 1),
    });
  }

  Json table_cells(const Json& object, Timestamp now) const override {
    const Task task = decode<Task>(object);
    return Json::array(
        {task.metadata.name, effective_slot(task), phase_name(task.status.phase),
         task.status.attempt, task.status.exit_code ? std::to_string(*task.status.exit_code) : "",
         age_cell(task.metadata, now), std::string(task_kind_name(task.spec)),
         std::string(enum_name(effective_restart_policy(task.spec))), task.status.reason});
  }

  Json openapi_schema() const override {
    return schema_with_gvk(schema_of<Task>(), info_,
                           "Task is a unit of work that Solti runs and keeps running as declared.");
  }

  Result<LogRef> log_ref(const Json& object, int64_t attempt) const override {
    const Task task = decode<Task>(object);
    const std::string& name = task.metadata.name;
    const int64_t latest = task.status.attempt;
    if (latest == 0) {
      return Status(StatusCode::kBadRequest,
                    "task \"" + name + "\" has not started an attempt yet");
    }
    if (attempt > latest) {
      return Status(StatusCode::kBadRequest, "attempt " + std::to_string(attempt) + " of task \"" +
                                                 name + "\" does not exist: generation " +
                                                 std::to_string(task.status.observed_generation) +
                                                 " has run " + std::to_string(latest) +
                                                 " attempts");
    }
    const int64_t n = attempt == 0 ? latest : attempt;
    return LogRef{
        attempt_log_path(task.metadata.namespace_, name, task.status.observed_generation, n),
        task.status.phase == TaskPhase::kRunning && n == latest};
  }

 private:
  // check(), and for a new object prepare_new() of a valid Task before it
  // is encoded.
  Checked checked(const Json& object, bool new_object) const {
    CheckedTask task = decode_and_validate_task(object, Origin::kApi);
    if (new_object && task.errors.empty()) prepare_new(task.task);
    return {encode_json(task.task), std::move(task.errors), std::move(task.unknown_fields)};
  }

  void prepare_new(Task& task) const {
    apply_defaults(task);
    task.status = {};
    task.metadata.generation = 1;
    if (runner_finalizer_ && !has_runner_finalizer(task.metadata))
      task.metadata.finalizers.emplace_back(kRunnerFinalizer);
  }

  ResourceInfo info_;
  bool runner_finalizer_;
};

class TaskRunStrategy final : public Strategy {
 public:
  TaskRunStrategy()
      : info_{"solti.io",       "v1",  "taskruns", "taskrun", "TaskRun", {"tkr"},
              {"all", "solti"}, false, false} {}

  const ResourceInfo& info() const override { return info_; }

  Checked check(const Json& object) const override {
    DecodeReport report;
    TaskRun run = decode_json<TaskRun>(object, report);
    FieldErrors errors = std::move(report.errors);
    if (errors.empty()) errors = validate_task_run(run);
    return {encode_json(run), std::move(errors), std::move(report.unknown_fields)};
  }

  FieldErrors validate(const Json& object) const override {
    return validate_task_run(decode<TaskRun>(object));
  }

  // TaskRuns are written whole by the reconciler, status included.
  void prepare_for_create(Json& object) const override {
    TaskRun run = decode<TaskRun>(object);
    run.metadata.generation = 1;
    object = encode_json(run);
  }
  void prepare_for_update(Json& object, const Json& old) const override {
    TaskRun run = decode<TaskRun>(object);
    run.metadata.generation = decode<TaskRun>(old).metadata.generation;
    object = encode_json(run);
  }
  void prepare_for_status_update(Json& object, const Json& old) const override {
    prepare_for_update(object, old);
  }

  std::vector<std::string_view> selectable_fields() const override {
    return {"spec.taskName", "status.phase"};
  }

  std::string field_value(const Json& object, std::string_view field) const override {
    const TaskRun run = decode<TaskRun>(object);
    if (field == "spec.taskName") return run.spec.task_name;
    if (field == "status.phase") return phase_name(run.status.phase);
    return "";
  }

  Json table_columns() const override {
    return Json::array({
        column("Name", "string", "Name of the TaskRun", 0, "name"),
        column("Task", "string", "The Task this attempt belongs to"),
        column("Generation", "integer", "The Task generation the attempt ran"),
        column("Attempt", "integer", "Attempt number within the generation"),
        column("Phase", "string", "Outcome of the attempt"),
        column("Exit", "string", "Exit code"),
        column("Age", "date", "Time since creation"),
        column("Runner", "string", "Runner that ran the attempt", 1),
        column("Reason", "string", "Reason of the outcome", 1),
    });
  }

  Json table_cells(const Json& object, Timestamp now) const override {
    const TaskRun run = decode<TaskRun>(object);
    return Json::array({run.metadata.name, run.spec.task_name, run.spec.generation,
                        run.spec.attempt, phase_name(run.status.phase),
                        run.status.exit_code ? std::to_string(*run.status.exit_code) : "",
                        age_cell(run.metadata, now), run.status.runner, run.status.reason});
  }

  Json openapi_schema() const override {
    return schema_with_gvk(schema_of<TaskRun>(), info_,
                           "TaskRun records one attempt of one generation of a Task.");
  }

 private:
  ResourceInfo info_;
};

}  // namespace

std::unique_ptr<Strategy> make_task_strategy(bool runner_finalizer) {
  return std::make_unique<TaskStrategy>(runner_finalizer);
}
std::unique_ptr<Strategy> make_task_run_strategy() { return std::make_unique<TaskRunStrategy>(); }

std::string human_duration(std::chrono::milliseconds age) {
  using namespace std::chrono;
  const int64_t s = std::max<int64_t>(duration_cast<seconds>(age).count(), 0);
  auto text = [](int64_t a, const char* ua, int64_t b = 0, const char* ub = nullptr) {
    std::string out = std::to_string(a) + ua;
    if (ub && b > 0) out += std::to_string(b) + ub;
    return out;
  };
  if (s < 120) return text(s, "s");
  const int64_t m = s / 60, h = s / 3600, d = s / 86400;
  if (m < 10) return text(m, "m", s % 60, "s");
  if (h < 3) return text(m, "m");
  if (h < 8) return text(h, "h", m % 60, "m");
  if (h < 48) return text(h, "h");
  if (d < 8) return text(d, "d", h % 24, "h");
  if (d < 365 * 2) return text(d, "d");
  if (d < 365 * 8) return text(d / 365, "y", d % 365, "d");
  return text(d / 365, "y");
}

}  // namespace solti::api
