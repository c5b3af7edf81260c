#include "reconciler/runners/router.h"

#include <sys/utsname.h>

#include "model/label_selector.h"

namespace solti::runners {

std::string host_arch() {
  struct utsname u;
  if (::uname(&u) != 0) return "unknown";
  const std::string machine = u.machine;
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine == "i686" || machine == "i386") return "386";
  return machine;
}

void Router::add(std::unique_ptr<Runner> runner, const Labels& extra_labels) {
  Labels labels = extra_labels;
  labels["solti.io/runner"] = std::string(runner->name());
  labels["kubernetes.io/os"] = "linux";
  labels["kubernetes.io/arch"] = host_arch();
  entries_.push_back({std::move(runner), std::move(labels)});
}

Runner* Router::route(const TaskSpec& spec) const {
  Selector selector;
  if (spec.runner_selector) {
    auto parsed = Selector::from(*spec.runner_selector, FieldPath("spec.runnerSelector"));
    if (!parsed.ok()) return nullptr;  // validation refused such selectors already
    selector = std::move(parsed).value();
  }
  for (const auto& entry : entries_) {
    if (entry.runner->supports(spec) && selector.matches(entry.labels)) return entry.runner.get();
  }
  return nullptr;
}

size_t Router::remove_leftovers() {
  size_t removed = 0;
  for (auto& entry : entries_) removed += entry.runner->remove_leftovers();
  return removed;
}

const Labels& Router::labels(const Runner& runner) const {
  static const Labels kNone;
  for (const auto& entry : entries_)
    if (entry.runner.get() == &runner) return entry.labels;
  return kNone;
}

}  // namespace solti::runners
