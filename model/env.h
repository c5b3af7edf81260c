// Environment variables of a Task and of a runner, and how they combine.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/fields.h"

namespace solti {

struct EnvVar {
  std::string name;
  std::string value;
  bool operator==(const EnvVar&) const = default;
};

SOLTI_FIELDS(EnvVar) {
  v("name", s.name, "Name of the environment variable.");
  v("value", s.value, "Value of the environment variable.");
}

// The environment an attempt runs with: within each list the last duplicate
// wins, and the runner's value wins over the Task's. The result is sorted.
std::map<std::string, std::string> merge_env(const std::vector<EnvVar>& task_env,
                                             const std::vector<EnvVar>& runner_env);

}  // namespace solti
