// The router (DESIGN §9): runners registered in order, each with labels;
// an attempt goes to the first runner that supports the Task's kind and
// whose labels match the Task's runnerSelector.
//
// Every runner carries solti.io/runner=<name>, kubernetes.io/os and
// kubernetes.io/arch (Kubernetes' spellings, e.g. linux and amd64) plus the
// labels given to add() (soltid's --runner-labels). Not thread-safe to
// modify; route() may be called from any thread once runners are added.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/label_selector.h"
#include "reconciler/runners/runner.h"

namespace solti::runners {

class Router {
 public:
  void add(std::unique_ptr<Runner> runner, const Labels& extra_labels = {});
  // Nothing when no runner supports the kind and matches the selector.
  Runner* route(const TaskSpec& spec) const;
  const Labels& labels(const Runner& runner) const;
  // Runner::remove_leftovers() of every runner; the total.
  size_t remove_leftovers();

 private:
  struct Entry {
    std::unique_ptr<Runner> runner;
    Labels labels;
  };
  std::vector<Entry> entries_;
};

// "amd64", "arm64", ... as Kubernetes names this machine's architecture.
std::string host_arch();

}  // namespace solti::runners
