// The resources solti.io/v1 serves: Task and TaskRun strategies.
#pragma once

#include <memory>

#include "apiserver/strategy.h"

namespace solti::api {

// With `runner_finalizer`, a created Task gets kRunnerFinalizer at once (as
// Kubernetes admission adds pvc-protection), saving the reconciler a write
// per Task; only for a server whose reconciler removes it again, or
// deletes would wait forever.
std::unique_ptr<Strategy> make_task_strategy(bool runner_finalizer = false);
std::unique_ptr<Strategy> make_task_run_strategy();

// Kubernetes-style age for tables: "45s", "5m30s", "3h", "12d", ...
std::string human_duration(std::chrono::milliseconds age);

}  // namespace solti::api
