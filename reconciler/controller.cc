#include "reconciler/controller.h"

#include <cstdio>
#include <tuple>

#include "model/json_codec.h"
#include "model/task_run.h"
#include "reconciler/lifecycle.h"

namespace solti::reconciler {
namespace {

using std::chrono::milliseconds;

template <class T>
T decode(const Json& object) {
  DecodeReport ignored;  // objects from the registry were validated on the way in
  return decode_json<T>(object, ignored);
}

std::pair<std::string, std::string> split_key(const std::string& key) {
  const size_t slash = key.find('/');
  return {key.substr(0, slash), key.substr(slash + 1)};
}

// Cancel reason of attempts stopped with soltid: nothing is recorded, so
// the next start finds them Running and applies AgentRestarted.
constexpr std::string_view kShutdown = "Shutdown";

std::string attempt_id(const std::string& key, int64_t generation, int64_t attempt) {
  return key + "@" + std::to_string(generation) + "#" + std::to_string(attempt);
}

// Releases the controller's mutex for a scope: store calls wait for an
// fsync and spawns for the kernel, and other keys' decisions must not.
class Unlocked {
 public:
  explicit Unlocked(std::mutex& mu) : mu_(mu) { mu_.unlock(); }
  ~Unlocked() { mu_.lock(); }
  Unlocked(const Unlocked&) = delete;
  Unlocked& operator=(const Unlocked&) = delete;

 private:
  std::mutex& mu_;
};

}  // namespace

struct Controller::ActiveAttempt {
  std::string id;  // key@generation#attempt
  std::string uid;
  std::string slot;
  int64_t generation = 0;
  int64_t attempt = 0;
  std::string runner;
  Timestamp started;
  milliseconds grace{0};  // the attempt's terminationGracePeriod
  // Null while the attempt is being started (its Running status written,
  // its process spawned): the attempt holds its room in active_ from the
  // decision on, and a cancel meanwhile is passed on once it has started.
  std::shared_ptr<runners::Attempt> handle;
  std::string cancel_reason;  // empty until canceled
  std::optional<runners::AttemptResult> result;
};

struct Controller::Slot {
  std::string owner;  // key of the Task whose attempt runs in the slot
  std::string next;   // a Replace newcomer waiting for the owner to go
  std::set<std::pair<Timestamp, std::string>> queue;  // Queue waiters, FIFO by creation

  bool empty() const { return owner.empty() && next.empty() && queue.empty(); }
};

Controller::Controller(api::Registry& tasks, api::Registry& task_runs, Clock& clock,
                       runners::Router& router, RandomSource& random, ControllerOptions options)
    : tasks_(tasks),
      task_runs_(task_runs),
      clock_(clock),
      router_(router),
      random_(random),
      options_(std::move(options)),
      queue_(clock),
      list_watch_(registry_list_watch(tasks)),
      informer_(*list_watch_, [this](const std::string& key) { on_event(key); }) {}

Controller::~Controller() {
  stopping_ = true;
  queue_.shut_down();
  if (informer_thread_.joinable()) informer_thread_.join();
  for (auto& worker : workers_) worker.join();
}

void Controller::start() {
  informer_thread_ = std::thread([this] {
    while (!stopping_) {
      Status s = informer_.pump(std::chrono::steady_clock::now() + milliseconds(200));
      if (!s.ok() && !stopping_) {
        std::fprintf(stderr, "soltid: task informer: %s\n", s.to_string().c_str());
        std::this_thread::sleep_for(milliseconds(500));
      }
    }
  });
  for (size_t i = 0; i < std::max<size_t>(options_.workers, 1); ++i) {
    workers_.emplace_back([this] {
      while (auto key = queue_.wait_and_take()) process(*key);
    });
  }
}

void Controller::stop(milliseconds limit) {
  stopping_ = true;
  queue_.shut_down();
  if (informer_thread_.joinable()) informer_thread_.join();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
  const auto deadline = std::chrono::steady_clock::now() + limit;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, active] : active_) cancel(*active, kShutdown);
  }
  while (running_.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(20));
}

Status Controller::pump_events(std::chrono::steady_clock::time_point deadline) {
  return informer_.pump(deadline);
}

void Controller::on_event(const std::string& key) { queue_.add(key); }

void Controller::run_ready(size_t limit) {
  for (size_t taken = 0; taken < limit && !stopping_; ++taken) {
    auto key = queue_.take();
    if (!key) return;
    process(*key);
  }
}

void Controller::process(const std::string& key) {
  const uint64_t turn = queue_.take_order(key);
  std::unique_lock lock(mu_);
  capacity_woken_.erase(key);
  const bool nudged = nudged_.erase(key) > 0;
  const bool echo = is_echo(key) && !nudged;
  if (echo) pass_turn(turn);
  auto requeue = echo ? Result<Requeue>(Requeue{}) : reconcile(key, turn);
  // Only a reconcile that ends with nothing left to do leaves its write's
  // version for the echo check: not one that failed or wants a later look,
  // nor one nudged while it had mu_ released (the nudge may postdate what
  // it decided from).
  if (!requeue.ok() || *requeue || nudged_.count(key)) settled_at_.erase(key);
  if (!requeue.ok()) {
    // Conflicts are routine (someone wrote in between): look again soon.
    if (requeue.status().code() != StatusCode::kConflict) {
      std::fprintf(stderr, "soltid: reconcile %s: %s\n", key.c_str(),
                   requeue.status().to_string().c_str());
    }
    queue_.add_rate_limited(key);
  } else {
    queue_.forget(key);
    if (*requeue) queue_.add_after(key, **requeue);
  }
  queue_.done(key);
  // Room this key did not take (it needed none after all) goes to the next.
  wake_capacity_waiters();
}

bool Controller::is_echo(const std::string& key) {
  auto it = settled_at_.find(key);
  if (it == settled_at_.end()) return false;
  const std::string written = std::move(it->second);
  settled_at_.erase(it);
  return informer_.resource_version_of(key) == written;
}

void Controller::take_turn(uint64_t turn) {
  if (turns_through_ + 1 < turn) {
    ++turn_waiters_;
    turn_passed_.wait(mu_, [&] { return turns_through_ + 1 >= turn; });
    --turn_waiters_;
  }
  pass_turn(turn);
}

void Controller::pass_turn(uint64_t turn) {
  turns_passed_.insert(turn);
  const uint64_t before = turns_through_;
  while (!turns_passed_.empty() && *turns_passed_.begin() <= turns_through_ + 1) {
    turns_through_ = std::max(turns_through_, *turns_passed_.begin());
    turns_passed_.erase(turns_passed_.begin());
  }
  if (turn_waiters_ > 0 && turns_through_ != before) turn_passed_.notify_all();
}

void Controller::nudge(const std::string& key, WorkQueue::Priority priority) {
  nudged_.insert(key);
  queue_.add(key, priority);
}

// --- reconcile ---------------------------------------------------------------

Result<Controller::Requeue> Controller::reconcile(const std::string& key, uint64_t turn) {
  ++reconciles_;
  // Not structured bindings: clang 14 cannot capture those in a lambda.
  const auto split = split_key(key);
  const std::string& ns = split.first;
  const std::string& name = split.second;
  auto got = [&] {
    Unlocked io(mu_);
    return tasks_.get(ns, name);
  }();
  take_turn(turn);
  auto active_it = active_.find(key);
  ActiveAttempt* active = active_it == active_.end() ? nullptr : active_it->second.get();
  if (!got.ok()) {
    if (got.status().code() != StatusCode::kNotFound) return got.status();
    // Gone without our finalizer (it was removed by hand): stop what runs.
    leave_slots(key);
    displaced_.erase(key);
    stop_waiting_for_capacity(key);
    if (active && !active->result) {
      cancel(*active, reason::kDeleted);
      return Requeue{};
    }
    if (active) forget_attempt(key);
    remove_logs(ns, name);
    if (Status s = delete_task_runs(ns, std::string(kTaskLabel) + "=" + task_label_value(name));
        !s.ok())
      return s;
    return Requeue{};
  }
  Json object = std::move(got).value();
  Task task = decode<Task>(object);
  if (active && active->uid != task.metadata.uid) {
    // The attempt belongs to an earlier Task of the same name.
    if (!active->result) {
      cancel(*active, reason::kDeleted);
      return Requeue{};
    }
    forget_attempt(key);
    active = nullptr;
  }
  if (active && active->result) {
    if (Status s = record_outcome(*active, object, task); !s.ok()) return s;
    forget_attempt(key);
    active = nullptr;
  }
  if (task.metadata.deletion_timestamp) return finalize(key, object, task);
  if (active) {
    if (effective_suspend(task.spec)) {
      cancel(*active, reason::kSuspended);
    } else if (active->generation != task.metadata.generation) {
      cancel(*active, reason::kSpecChanged);
    }
    return Requeue{};
  }
  return reconcile_live(key, std::move(object), std::move(task));
}

Result<Controller::Requeue> Controller::reconcile_live(const std::string& key, Json object,
                                                       Task task) {
  if (!has_runner_finalizer(task.metadata)) {
    // Held for the Task's whole life, so that a delete always passes here
    // to stop the attempt and remove its TaskRuns and logs.
    Json desired = object;
    desired["metadata"]["finalizers"].push_back(kRunnerFinalizer);
    if (Status s = write_task(object, task, std::move(desired), api::Subresource::kMain); !s.ok())
      return s;
  }

  const Timestamp now = clock_.now();
  const int64_t generation = task.metadata.generation;
  if (task.status.phase == TaskPhase::kRunning && task.status.attempt > 0) {
    // Running in the store but not here: soltid stopped during the attempt.
    // Its TaskRun is closed whatever happens next, even when the spec
    // changed meanwhile.
    runners::AttemptResult lost;
    lost.outcome = runners::Outcome::kFailed;
    lost.reason = std::string(reason::kAgentRestarted);
    lost.message =
        "soltid restarted while attempt " + std::to_string(task.status.attempt) + " was running";
    TaskRunStatus run;
    run.phase = TaskPhase::kFailed;
    run.start_time = task.status.start_time;
    run.completion_time = now;
    run.reason = lost.reason;
    run.message = lost.message;
    run.runner = task.status.runner;
    // A run this process already closed (its outcome is recorded, the status
    // of an older generation is not) keeps what it says.
    if (Status s = put_task_run(task, task.status.observed_generation, task.status.attempt,
                                std::move(run), RunWrite::kOnlyIfOpen);
        !s.ok())
      return s;
    if (task.status.observed_generation == generation)
      task.status = status_after_attempt(task, lost, "", now, random_);
  }
  if (task.status.observed_generation != generation) {
    std::vector<Condition> previous = std::move(task.status.conditions);
    task.status = fresh_status(generation);
    task.status.conditions = std::move(previous);
  }

  if (effective_suspend(task.spec)) {
    leave_slots(key);
    if (task.status.phase != TaskPhase::kCanceled || task.status.reason != reason::kSuspended) {
      task.status =
          status_without_attempt(task, TaskPhase::kCanceled, reason::kSuspended,
                                 "suspended: no attempt runs while spec.suspend is true", now);
    }
    if (Status s = write_status(object, task); !s.ok()) return s;
    return Requeue{};
  }
  if (is_terminal(task.status)) {
    leave_slots(key);
    if (Status s = write_status(object, task); !s.ok()) return s;
    return Requeue{};
  }
  if (task.status.next_attempt_time && *task.status.next_attempt_time > now) {
    if (Status s = write_status(object, task); !s.ok()) return s;
    return Requeue{*task.status.next_attempt_time - now};
  }
  runners::Runner* runner = router_.route(task.spec);
  if (!runner) {
    leave_slots(key);
    task.status =
        status_without_attempt(task, TaskPhase::kPending, reason::kNoRunner,
                               "no runner supports kind " + std::string(task_kind_name(task.spec)) +
                                   " and matches spec.runnerSelector",
                               now, true);
    if (Status s = write_status(object, task); !s.ok()) return s;
    return Requeue{};
  }
  return admit_and_start(key, object, task, *runner);
}

Result<Controller::Requeue> Controller::admit_and_start(const std::string& key, Json& object,
                                                        Task& task, runners::Runner& runner) {
  const Timestamp now = clock_.now();
  const std::string slot_name = effective_slot(task);
  const std::string sk = slot_key(task);
  leave_slots(key, sk);
  // Looked at, not created: a slot exists only while someone owns or waits
  // for it (the writes below go through slots_[sk]).
  static const Slot kFree;
  const auto found = slots_.find(sk);
  const Slot& slot = found == slots_.end() ? kFree : found->second;
  const auto settle = [&](TaskPhase phase, std::string_view why,
                          const std::string& message) -> Result<Requeue> {
    if (phase != TaskPhase::kPending) leave_slots(key);
    if (task.status.phase != phase || task.status.reason != why) {
      task.status = status_without_attempt(task, phase, why, message, now);
    }
    if (Status s = write_status(object, task); !s.ok()) return s;
    return Requeue{};
  };

  if (displaced_.erase(key)) {
    return settle(TaskPhase::kCanceled, reason::kSupersededByReplace,
                  "a later Replace in slot " + slot_name + " took this Task's turn");
  }
  const bool owned_by_other = !slot.owner.empty() && slot.owner != key;
  const bool reserved_for_me = slot.next == key;
  const bool reserved_for_other = !slot.next.empty() && !reserved_for_me;
  const bool queued_ahead = !slot.queue.empty() && slot.queue.begin()->second != key;
  if (!owned_by_other && (reserved_for_me || (!reserved_for_other && !queued_ahead))) {
    if (options_.max_parallel > 0 && active_.size() >= options_.max_parallel) {
      wait_for_capacity(key);
      return settle(TaskPhase::kPending, reason::kWaitingForCapacity,
                    "waiting for one of the " + std::to_string(options_.max_parallel) +
                        " running attempts (--max-parallel) to end");
    }
    stop_waiting_for_capacity(key);
    if (reserved_for_me) slots_[sk].next.clear();
    leave_slots(key);
    slots_[sk].owner = key;
    if (Status s = start_attempt(key, object, task, runner); !s.ok()) {
      release_slot(sk, key);
      return s;
    }
    return Requeue{};
  }

  const std::string holder = owned_by_other       ? slot.owner
                             : !slot.next.empty() ? slot.next
                                                  : slot.queue.begin()->second;
  switch (effective_admission(task.spec)) {
    case AdmissionPolicy::kDropIfRunning:
      return settle(TaskPhase::kCanceled, reason::kSlotBusy,
                    "slot " + slot_name + " is busy with task " + split_key(holder).second);
    case AdmissionPolicy::kQueue: {
      const auto entry = std::make_pair(task.metadata.creation_timestamp.value_or(now), key);
      if (!slot.queue.count(entry)) {
        if (slot.queue.size() >= kMaxSlotQueueDepth) {
          return settle(TaskPhase::kFailed, reason::kQueueFull,
                        "the queue of slot " + slot_name + " is full (" +
                            std::to_string(kMaxSlotQueueDepth) + " Tasks wait already)");
        }
        slots_[sk].queue.insert(entry);
        waiting_in_[key] = sk;
      }
      if (next_in_free_slot(sk, key)) nudge(key);
      return settle(TaskPhase::kPending, reason::kQueued,
                    "waiting in the queue of slot " + slot_name);
    }
    case AdmissionPolicy::kReplace: {
      if (reserved_for_other) {
        displaced_.insert(slot.next);
        nudge(slot.next);
      }
      slots_[sk].next = key;
      waiting_in_[key] = sk;
      if (owned_by_other) {
        auto it = active_.find(slot.owner);
        if (it != active_.end()) cancel(*it->second, reason::kSupersededByReplace);
      }
      if (next_in_free_slot(sk, key)) nudge(key);
      return settle(TaskPhase::kPending, reason::kWaitingForSlot,
                    "replacing task " + split_key(holder).second + " in slot " + slot_name);
    }
  }
  return Requeue{};
}

Status Controller::start_attempt(const std::string& key, Json& object, Task& task,
                                 runners::Runner& runner) {
  const Timestamp now = clock_.now();
  const int64_t generation = task.metadata.generation;
  const int64_t attempt = task.status.attempt + 1;
  const std::string runner_name(runner.name());

  auto reserved = std::make_unique<ActiveAttempt>();
  reserved->id = attempt_id(key, generation, attempt);
  reserved->uid = task.metadata.uid;
  reserved->slot = slot_key(task);
  reserved->generation = generation;
  reserved->attempt = attempt;
  reserved->runner = runner_name;
  reserved->started = now;
  reserved->grace = effective_termination_grace(task.spec);
  ActiveAttempt& active = *(active_[key] = std::move(reserved));
  const auto give_up = [&](Status why) {
    active_.erase(key);
    return why;
  };

  task.status = status_for_start(task, attempt, runner_name, now);
  // Running is on record before the process exists, so that a crash in
  // between is found and recorded (AgentRestarted) at the next start.
  if (Status s = write_status(object, task); !s.ok()) return give_up(s);
  TaskRunStatus run;
  run.phase = TaskPhase::kRunning;
  run.start_time = now;
  run.runner = runner_name;
  if (Status s = put_task_run(task, generation, attempt, std::move(run)); !s.ok())
    return give_up(s);
  if (Status s = trim_run_history(task); !s.ok()) return give_up(s);

  runners::AttemptRequest request;
  request.id = active.id;
  request.spec = task.spec;
  request.log_path = (options_.logs_dir / attempt_log_path(task.metadata.namespace_,
                                                           task.metadata.name, generation, attempt))
                         .string();
  request.log_limit_bytes = options_.log_limit_bytes;
  request.runner_env = options_.runner_env;
  ++running_;
  std::shared_ptr<runners::Attempt> handle;
  {
    Unlocked io(mu_);
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(request.log_path).parent_path(), ec);
    handle = runner.start(std::move(request),
                          [this, key, id = active.id](runners::AttemptResult result) {
                            on_attempt_done(key, id, std::move(result));
                          });
  }
  active.handle = std::move(handle);
  if (!active.cancel_reason.empty() && !active.result) active.handle->cancel(active.grace);
  return Status::Ok();
}

void Controller::on_attempt_done(const std::string& key, const std::string& id,
                                 runners::AttemptResult result) {
  std::lock_guard lock(mu_);
  auto it = active_.find(key);
  if (it == active_.end() || it->second->id != id) return;
  it->second->result = std::move(result);
  --running_;
  nudge(key, WorkQueue::Priority::kHigh);
}

void Controller::cancel(ActiveAttempt& active, std::string_view why) {
  if (!active.cancel_reason.empty() || active.result) return;
  active.cancel_reason = std::string(why);
  if (active.handle) active.handle->cancel(active.grace);
}

Status Controller::record_outcome(ActiveAttempt& active, Json& object, Task& task) {
  const runners::AttemptResult& result = *active.result;
  if (active.cancel_reason == kShutdown) return Status::Ok();
  const Timestamp now = clock_.now();
  TaskRunStatus run;
  run.phase = run_phase(result);
  run.start_time = active.started;
  run.completion_time = now;
  if (result.exit_code) run.exit_code = *result.exit_code;
  run.reason = active.cancel_reason.empty() ? result.reason : active.cancel_reason;
  run.message = bounded_message(result.message);
  run.runner = active.runner;
  if (Status s = put_task_run(task, active.generation, active.attempt, std::move(run)); !s.ok())
    return s;
  // An attempt of an older generation, or of a Task being deleted, leaves
  // the status to the reconcile that follows.
  if (task.metadata.deletion_timestamp || active.generation != task.metadata.generation ||
      task.status.observed_generation != active.generation ||
      task.status.attempt != active.attempt) {
    return Status::Ok();
  }
  task.status = status_after_attempt(task, result, active.cancel_reason, now, random_);
  return write_status(object, task);
}

Result<Controller::Requeue> Controller::finalize(const std::string& key, Json& object,
                                                 const Task& task) {
  leave_slots(key);
  auto it = active_.find(key);
  if (it != active_.end()) {
    cancel(*it->second, reason::kDeleted);
    return Requeue{};
  }
  if (!has_runner_finalizer(task.metadata)) return Requeue{};
  if (Status s = delete_task_runs(task.metadata.namespace_,
                                  std::string(kTaskUidLabel) + "=" + task.metadata.uid);
      !s.ok())
    return s;
  remove_logs(task.metadata.namespace_, task.metadata.name);
  Json desired = object;
  Json finalizers = Json::array();
  for (const auto& f : task.metadata.finalizers)
    if (f != kRunnerFinalizer) finalizers.push_back(f);
  desired["metadata"]["finalizers"] = std::move(finalizers);
  Task written = task;
  if (Status s = write_task(object, written, std::move(desired), api::Subresource::kMain);
      !s.ok() && s.code() != StatusCode::kNotFound)
    return s;
  return Requeue{};
}

void Controller::forget_attempt(const std::string& key) {
  auto it = active_.find(key);
  if (it == active_.end()) return;
  const std::string slot = it->second->slot;
  if (!it->second->result) --running_;
  active_.erase(it);
  release_slot(slot, key);
  wake_capacity_waiters();
}

void Controller::wait_for_capacity(const std::string& key) {
  if (capacity_waiters_.count(key)) return;
  capacity_waiters_[key] = ++capacity_places_;
  capacity_line_[capacity_places_] = key;
}

void Controller::stop_waiting_for_capacity(const std::string& key) {
  auto it = capacity_waiters_.find(key);
  if (it == capacity_waiters_.end()) return;
  capacity_line_.erase(it->second);
  capacity_waiters_.erase(it);
}

void Controller::wake_capacity_waiters() {
  if (options_.max_parallel == 0) return;
  while (!capacity_line_.empty() &&
         active_.size() + capacity_woken_.size() < options_.max_parallel) {
    const std::string key = capacity_line_.begin()->second;
    stop_waiting_for_capacity(key);
    capacity_woken_.insert(key);
    nudge(key);
  }
}

// --- writes --------------------------------------------------------------------

Status Controller::write_status(Json& object, Task& task) {
  Json status = encode_json(task.status);
  if (object.contains("status") && api::same_json(object["status"], status)) return Status::Ok();
  Json desired = object;
  desired["status"] = std::move(status);
  return write_task(object, task, std::move(desired), api::Subresource::kStatus);
}

Status Controller::write_task(Json& object, Task& task, Json desired,
                              api::Subresource subresource) {
  api::WriteOptions options;
  options.field_manager = options_.field_manager;
  {
    Unlocked io(mu_);
    auto written = tasks_.update(task.metadata.namespace_, task.metadata.name, std::move(desired),
                                 subresource, options);
    if (!written.ok()) return written.status();
    object = Json::parse(*written->object, nullptr, false);
    task = decode<Task>(object);
  }
  settled_at_[Informer::key_of(task.metadata.namespace_, task.metadata.name)] =
      task.metadata.resource_version;
  return Status::Ok();
}

Status Controller::put_task_run(const Task& task, int64_t generation, int64_t attempt,
                                TaskRunStatus status, RunWrite mode) {
  Unlocked io(mu_);
  TaskRun run;
  run.metadata.name = task_run_name(task.metadata.name, generation, attempt);
  run.metadata.namespace_ = task.metadata.namespace_;
  run.metadata.labels[std::string(kTaskLabel)] = task_label_value(task.metadata.name);
  run.metadata.labels[std::string(kTaskUidLabel)] = task.metadata.uid;
  OwnerReference owner;
  owner.api_version = std::string(kApiVersion);
  owner.kind = std::string(kTaskKind);
  owner.name = task.metadata.name;
  owner.uid = task.metadata.uid;
  owner.controller = true;
  owner.block_owner_deletion = true;
  run.metadata.owner_references.push_back(std::move(owner));
  run.spec.task_name = task.metadata.name;
  run.spec.generation = generation;
  run.spec.attempt = attempt;
  run.status = std::move(status);
  api::WriteOptions options;
  options.field_manager = options_.field_manager;
  auto existing = task_runs_.get(run.metadata.namespace_, run.metadata.name);
  if (!existing.ok()) {
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    auto created = task_runs_.create(run.metadata.namespace_, encode_json(run), options);
    return created.ok() ? Status::Ok() : created.status();
  }
  if (mode == RunWrite::kOnlyIfOpen &&
      decode<TaskRun>(*existing).status.phase != TaskPhase::kRunning) {
    return Status::Ok();
  }
  run.metadata.resource_version = (*existing)["metadata"].value("resourceVersion", "");
  auto updated = task_runs_.update(run.metadata.namespace_, run.metadata.name, encode_json(run),
                                   api::Subresource::kMain, options);
  return updated.ok() ? Status::Ok() : updated.status();
}

Status Controller::trim_run_history(const Task& task) {
  // Generation 1 has one run per attempt, so up to the limit there is
  // nothing to trim and no need to list (the common one-shot Task).
  if (task.metadata.generation == 1 && size_t(task.status.attempt) <= options_.run_history_limit)
    return Status::Ok();
  Unlocked io(mu_);
  api::ListQuery query;
  auto selector = Selector::parse(std::string(kTaskUidLabel) + "=" + task.metadata.uid);
  if (!selector.ok()) return selector.status();
  query.labels = std::move(selector).value();
  auto page = task_runs_.list(task.metadata.namespace_, query);
  if (!page.ok()) return page.status();
  if (page->items.size() <= options_.run_history_limit) return Status::Ok();
  std::vector<TaskRun> finished;
  for (const auto& item : page->items) {
    TaskRun run = decode<TaskRun>(Json::parse(*item));
    if (run.status.phase != TaskPhase::kRunning) finished.push_back(std::move(run));
  }
  std::sort(finished.begin(), finished.end(), [](const TaskRun& a, const TaskRun& b) {
    return std::tie(a.spec.generation, a.spec.attempt) <
           std::tie(b.spec.generation, b.spec.attempt);
  });
  size_t excess = page->items.size() - options_.run_history_limit;
  for (size_t i = 0; i < finished.size() && i < excess; ++i) {
    auto removed =
        task_runs_.remove(finished[i].metadata.namespace_, finished[i].metadata.name, {});
    if (!removed.ok() && removed.status().code() != StatusCode::kNotFound) return removed.status();
  }
  return Status::Ok();
}

Status Controller::delete_task_runs(const std::string& ns, const std::string& label_selector) {
  Unlocked io(mu_);
  api::ListQuery query;
  auto selector = Selector::parse(label_selector);
  if (!selector.ok()) return selector.status();
  query.labels = std::move(selector).value();
  auto removed = task_runs_.remove_collection(ns, query, false);
  return removed.ok() ? Status::Ok() : removed.status();
}

void Controller::remove_logs(const std::string& ns, const std::string& name) {
  Unlocked io(mu_);
  std::error_code ignored;
  std::filesystem::remove_all(options_.logs_dir / task_log_dir(ns, name), ignored);
}

// --- slots -----------------------------------------------------------------------

std::string Controller::slot_key(const Task& task) const {
  return task.metadata.namespace_ + "/" + effective_slot(task);
}

void Controller::leave_slots(const std::string& key, const std::string& except) {
  auto waiting = waiting_in_.find(key);
  if (waiting == waiting_in_.end() || waiting->second == except) return;
  if (auto it = slots_.find(waiting->second); it != slots_.end()) {
    Slot& slot = it->second;
    bool was_head = !slot.queue.empty() && slot.queue.begin()->second == key;
    std::erase_if(slot.queue, [&](const auto& entry) { return entry.second == key; });
    if (slot.next == key) {
      slot.next.clear();
      was_head = true;
    }
    // Whoever waits next may go now.
    if (was_head && slot.owner.empty() && !slot.queue.empty()) nudge(slot.queue.begin()->second);
    if (slot.empty()) slots_.erase(it);
  }
  waiting_in_.erase(waiting);
}

bool Controller::next_in_free_slot(const std::string& sk, const std::string& key) const {
  auto it = slots_.find(sk);
  if (it == slots_.end() || !it->second.owner.empty()) return false;
  const Slot& slot = it->second;
  return slot.next == key ||
         (slot.next.empty() && !slot.queue.empty() && slot.queue.begin()->second == key);
}

void Controller::release_slot(const std::string& sk, const std::string& key) {
  auto it = slots_.find(sk);
  if (it == slots_.end() || it->second.owner != key) return;
  Slot& slot = it->second;
  slot.owner.clear();
  if (!slot.next.empty()) {
    nudge(slot.next);
  } else if (!slot.queue.empty()) {
    nudge(slot.queue.begin()->second);
  }
  if (slot.empty()) slots_.erase(it);
}

}  // namespace solti::reconciler
