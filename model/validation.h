// Validation of Tasks and TaskRuns. Every function collects *all* problems,
// each with its field path ("spec.backoff.factor: must be >= 1, got 0.5"),
// and never stops at the first. Pure functions; thread-safe.
#pragma once

#include "model/field_error.h"
#include "model/task.h"
#include "model/task_run.h"

namespace solti {

// Where an object comes from. Embedded tasks exist only inside soltid, so the
// API boundary refuses them.
enum class Origin { kApi, kInProcess };

FieldErrors validate_object_meta(const ObjectMeta& meta, const FieldPath& path);
FieldErrors validate_task_spec(const TaskSpec& spec, const ObjectMeta& meta, Origin origin,
                               const FieldPath& path);
FieldErrors validate_task_status(const TaskStatus& status, const FieldPath& path);
FieldErrors validate_condition(const Condition& condition, const FieldPath& path);

// apiVersion and kind against solti.io/v1 and `expected_kind`.
FieldErrors validate_type_meta(const std::string& api_version, const std::string& kind,
                               std::string_view expected_kind);

// apiVersion, kind, metadata, spec and status of a whole Task.
FieldErrors validate_task(const Task& task, Origin origin);
FieldErrors validate_task_run(const TaskRun& run);

}  // namespace solti
