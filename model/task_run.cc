#include "model/task_run.h"

namespace solti {

std::string task_run_name(std::string_view task_name, int64_t generation, int64_t attempt) {
  std::string name(task_name);
  name += '-';
  name += std::to_string(generation);
  name += '-';
  name += std::to_string(attempt);
  return name;
}

}  // namespace solti
