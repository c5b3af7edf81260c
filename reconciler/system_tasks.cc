#include "reconciler/system_tasks.h"

#include <boost/asio/post.hpp>
#include <cstdio>

#include "reconciler/lifecycle.h"

namespace solti::reconciler {

struct SystemTasks::Entry {
  Task task;
  std::shared_ptr<runners::Attempt> attempt;  // while one runs
};

SystemTasks::SystemTasks(Clock& clock, boost::asio::io_context& loop, runners::Router& router,
                         RandomSource& random)
    : clock_(clock), loop_(loop), router_(router), random_(random), timer_(loop) {}

SystemTasks::~SystemTasks() = default;

void SystemTasks::add(Task task) {
  task.status = fresh_status(task.metadata.generation);
  const std::string name = task.metadata.name;
  entries_[name] = std::make_unique<Entry>(Entry{std::move(task), nullptr});
}

void SystemTasks::start() {
  boost::asio::post(loop_, [this] {
    for (auto& [name, entry] : entries_) launch(*entry);
  });
}

void SystemTasks::stop() {
  boost::asio::post(loop_, [this] {
    stopped_ = true;
    timer_.cancel();
    for (auto& [name, entry] : entries_)
      if (entry->attempt) entry->attempt->cancel(effective_termination_grace(entry->task.spec));
  });
}

void SystemTasks::launch(Entry& entry) {
  if (stopped_) return;
  Task& task = entry.task;
  runners::Runner* runner = router_.route(task.spec);
  const Timestamp now = clock_.now();
  std::lock_guard lock(mu_);
  if (!runner) {
    task.status = status_without_attempt(task, TaskPhase::kPending, reason::kNoRunner,
                                         "no runner supports this embedded function", now, true);
    return;
  }
  task.status = status_for_start(task, task.status.attempt + 1, std::string(runner->name()), now);
  runners::AttemptRequest request;
  request.id = "system/" + task.metadata.name + "#" + std::to_string(task.status.attempt);
  request.spec = task.spec;
  entry.attempt = runner->start(std::move(request), [this, &entry](runners::AttemptResult result) {
    {
      std::lock_guard lock(mu_);
      entry.attempt.reset();
      entry.task.status = status_after_attempt(entry.task, result, "", clock_.now(), random_);
    }
    if (result.outcome != runners::Outcome::kSucceeded &&
        result.outcome != runners::Outcome::kCanceled) {
      std::fprintf(stderr, "soltid: %s: %s\n", entry.task.metadata.name.c_str(),
                   result.message.c_str());
    }
    arm_timer();
  });
}

void SystemTasks::run_due() {
  const Timestamp now = clock_.now();
  for (auto& [name, entry] : entries_) {
    const auto& next = entry->task.status.next_attempt_time;
    if (!entry->attempt && next && *next <= now) launch(*entry);
  }
  arm_timer();
}

void SystemTasks::arm_timer() {
  if (stopped_) return;
  std::optional<Timestamp> earliest;
  for (const auto& [name, entry] : entries_) {
    const auto& next = entry->task.status.next_attempt_time;
    if (!entry->attempt && next && (!earliest || *next < *earliest)) earliest = next;
  }
  if (!earliest) return;
  timer_.expires_after(std::max(*earliest - clock_.now(), std::chrono::milliseconds(0)));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) run_due();
  });
}

std::optional<Task> SystemTasks::get(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return std::nullopt;
  return it->second->task;
}

}  // namespace solti::reconciler
