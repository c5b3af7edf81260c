// Tasks soltid runs for itself (DESIGN §4.1: housekeeping runs as embedded
// tasks on the same engine): the lifecycle functions, router, runners, loop
// and clock of the Task controller, with the status kept in memory because
// these Tasks exist only in-process (the API refuses the embedded kind).
//
// Threading: everything runs on `loop`; status() may be called from any
// thread. Time comes from `clock`: tests advance a FakeClock and call
// run_due() instead of waiting for the loop's timer.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "model/backoff.h"
#include "model/clock.h"
#include "model/task.h"
#include "reconciler/runners/router.h"

namespace solti::reconciler {

class SystemTasks {
 public:
  SystemTasks(Clock& clock, boost::asio::io_context& loop, runners::Router& router,
              RandomSource& random);
  ~SystemTasks();

  // Before start(). The Task must be valid for in-process use.
  void add(Task task);
  // Starts every Task on the loop; each then follows its restart policy.
  void start();
  // Cancels what runs and starts nothing more (on the loop).
  void stop();
  // Starts the Tasks whose nextAttemptTime has come (loop thread).
  void run_due();

  // A copy of the Task's current state; nothing for an unknown name.
  std::optional<Task> get(const std::string& name) const;

 private:
  struct Entry;
  void launch(Entry& entry);
  void arm_timer();

  Clock& clock_;
  boost::asio::io_context& loop_;
  runners::Router& router_;
  RandomSource& random_;
  boost::asio::steady_timer timer_;
  mutable std::mutex mu_;  // guards the Tasks' state for get()
  std::map<std::string, std::unique_ptr<Entry>> entries_;
  bool stopped_ = false;
};

}  // namespace solti::reconciler
