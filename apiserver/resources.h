// The resources solti.io/v1 serves: Task and TaskRun strategies.
#pragma once

#include <memory>

#include "apiserver/strategy.h"

namespace solti::api {

std::unique_ptr<Strategy> make_task_strategy();
std::unique_ptr<Strategy> make_task_run_strategy();

// Kubernetes-style age for tables: "45s", "5m30s", "3h", "12d", ...
std::string human_duration(std::chrono::milliseconds age);

}  // namespace solti::api
