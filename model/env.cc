#include "model/env.h"

namespace solti {

std::map<std::string, std::string> merge_env(const std::vector<EnvVar>& task_env,
                                             const std::vector<EnvVar>& runner_env) {
  std::map<std::string, std::string> merged;
  for (const auto& var : task_env) merged[var.name] = var.value;
  for (const auto& var : runner_env) merged[var.name] = var.value;
  return merged;
}

}  // namespace solti
