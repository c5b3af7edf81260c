// The embedded runner: C++ functions registered by name and run in-process
// for spec.embedded (soltid's own housekeeping). Each attempt runs on a
// thread of its own (embedded functions are few and may block on the
// store); its outcome is reported on the loop like any other runner's.
//
// Timeout and cancel are cooperative: the function is asked to stop
// through its StopFlag and the attempt ends when it returns.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "model/status.h"
#include "reconciler/runners/runner.h"

namespace solti::runners {

using StopFlag = std::atomic<bool>;
// Returns a message for the log (and status) on success, an error otherwise.
using EmbeddedFunction = std::function<Result<std::string>(const StopFlag& stop)>;

class EmbeddedRunner final : public Runner {
 public:
  explicit EmbeddedRunner(boost::asio::io_context& loop) : loop_(loop) {}

  // Before the first start(); not thread-safe.
  void register_function(std::string name, EmbeddedFunction function);

  std::string_view name() const override { return "embedded"; }
  bool supports(const TaskSpec& spec) const override;
  std::shared_ptr<Attempt> start(AttemptRequest request,
                                 std::function<void(AttemptResult)> done) override;

 private:
  boost::asio::io_context& loop_;
  std::map<std::string, EmbeddedFunction> functions_;
};

}  // namespace solti::runners
