#include "model/task_run.h"

#include <cctype>
#include <cstdio>

namespace solti {
namespace {

// FNV-1a, 32 bits: stable across builds and machines (std::hash is not).
std::string short_hash(std::string_view text) {
  uint32_t h = 2166136261u;
  for (unsigned char c : text) h = (h ^ c) * 16777619u;
  char out[9];
  std::snprintf(out, sizeof out, "%08x", h);
  return out;
}

// `name` cut so that it plus `suffix` fit in `limit`, never ending in a
// character a DNS name or label value may not end with.
std::string fit(std::string_view name, const std::string& suffix, size_t limit) {
  if (name.size() + suffix.size() <= limit) return std::string(name) + suffix;
  const std::string hash = "-" + short_hash(name);
  std::string cut(name.substr(0, limit - suffix.size() - hash.size()));
  while (!cut.empty() && !std::isalnum(static_cast<unsigned char>(cut.back()))) cut.pop_back();
  return cut + hash + suffix;
}

}  // namespace

std::string task_run_name(std::string_view task_name, int64_t generation, int64_t attempt) {
  return fit(task_name, "-" + std::to_string(generation) + "-" + std::to_string(attempt), 253);
}

std::string task_label_value(std::string_view task_name) { return fit(task_name, "", 63); }

std::string task_log_dir(std::string_view ns, std::string_view task_name) {
  return std::string(ns) + "/" + std::string(task_name);
}

std::string attempt_log_path(std::string_view ns, std::string_view task_name, int64_t generation,
                             int64_t attempt) {
  return task_log_dir(ns, task_name) + "/" + std::to_string(generation) + "-" +
         std::to_string(attempt) + ".log";
}

}  // namespace solti
