// The Task controller (controller-runtime's shape): an informer on Tasks
// feeds a de-duplicating, rate-limited work queue; reconcile(namespace/name)
// reads the Task as it is now, compares spec and status, starts or cancels
// attempts on the runners and writes the observed state back through the
// registry's /status path with a resourceVersion precondition. It decides
// from the current object, never from the event that woke it, so missed or
// repeated events change nothing.
//
// Lifecycle (DESIGN §5): attempts per generation, restart policies, retries
// with backoff in status.nextAttemptTime, admission per slot (DropIfRunning,
// Queue, Replace), suspend, spec changes, the solti.io/runner finalizer on
// delete, TaskRuns per attempt with bounded history, and recovery of
// attempts a previous soltid left Running (AgentRestarted).
//
// Threading (controller-runtime's MaxConcurrentReconciles): after start(),
// `workers` threads take keys from the queue, never the same key twice at
// once. A reconcile spends most of its time waiting for store fsyncs and
// for spawns, so the state shared between keys (attempts, slots, capacity)
// sits under one mutex that a reconcile holds while it decides and
// releases around every store call and runner start. Runner callbacks
// arrive on the runners' event loop; the informer pumps on its own thread. Time comes from `clock`,
// so tests leave the workers unstarted and drive backoff and periodic runs with a FakeClock,
// pump_events() and run_ready() instead of sleeping.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "apiserver/registry.h"
#include "model/backoff.h"
#include "model/clock.h"
#include "model/task_run.h"
#include "reconciler/informer.h"
#include "reconciler/runners/router.h"
#include "reconciler/work_queue.h"

namespace solti::reconciler {

// Label with the owning Task's uid on every TaskRun.
inline constexpr std::string_view kTaskUidLabel = "solti.io/task-uid";

struct ControllerOptions {
  std::filesystem::path logs_dir;  // attempt logs: <logs_dir>/<ns>/<task>/<gen>-<attempt>.log
  size_t log_limit_bytes = 10 * 1024 * 1024;
  size_t run_history_limit = 50;   // TaskRuns kept per Task
  std::vector<EnvVar> runner_env;  // added to every attempt's environment, winning clashes
  size_t max_parallel = 0;         // attempts running at once across all Tasks; 0: no limit
  size_t workers = 16;             // keys reconciled at once
  std::string field_manager = "solti-reconciler";
};

class Controller {
 public:
  Controller(api::Registry& tasks, api::Registry& task_runs, Clock& clock, runners::Router& router,
             RandomSource& random, ControllerOptions options);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Starts the informer thread and the reconcile workers.
  void start();
  // Cancels every running attempt (SIGTERM, then SIGKILL after the Task's
  // grace period) and waits until their processes are gone, at most
  // `limit`. Their Tasks stay Running in the store, so that the next start
  // records AgentRestarted and applies the restart policy. Not on the loop.
  void stop(std::chrono::milliseconds limit);

  // --- for tests that drive the controller by hand, without start() ---
  // Applies the informer's pending events, waiting until `deadline`.
  Status pump_events(std::chrono::steady_clock::time_point deadline);
  // Reconciles the keys that are ready now (at most `limit` of them), on
  // the calling thread.
  void run_ready(size_t limit = SIZE_MAX);
  size_t running_attempts() const { return running_.load(); }
  // Reconciles run so far; echoes of the controller's own writes skipped do
  // not count.
  uint64_t reconciles() const { return reconciles_.load(); }

 private:
  struct ActiveAttempt;
  struct Slot;
  // How long until the key wants another look (nothing: until an event).
  using Requeue = std::optional<std::chrono::milliseconds>;

  void on_event(const std::string& key);
  // Reconciles one key taken from the queue and settles it there.
  void process(const std::string& key);
  // Runs with mu_ held; releases it only inside store calls and spawns.
  // `turn` is the key's take order (WorkQueue::take_order).
  Result<Requeue> reconcile(const std::string& key, uint64_t turn);
  // Reconciles decide in the order their keys were taken, whatever order
  // their reads of the store finish in: two Tasks created one after the
  // other for one free slot are admitted in that order (DESIGN: Queue is
  // FIFO by creation), where otherwise the later one could win the race.
  // take_turn() waits (mu_ released while it waits) until every earlier
  // turn has passed and passes this one; pass_turn() passes one without
  // waiting (an echo). Every Task waits, since any Task's
  // name may be another's slot; waking waiters only when the line moves
  // keeps that free for a burst of 10,000 Tasks (notifying on every pass
  // cost it 10%).
  void take_turn(uint64_t turn);
  void pass_turn(uint64_t turn);
  Result<Requeue> reconcile_live(const std::string& key, Json object, Task task);
  Status record_outcome(ActiveAttempt& active, Json& object, Task& task);
  Result<Requeue> finalize(const std::string& key, Json& object, const Task& task);
  Result<Requeue> admit_and_start(const std::string& key, Json& object, Task& task,
                                  runners::Runner& runner);
  Status start_attempt(const std::string& key, Json& object, Task& task, runners::Runner& runner);
  // SIGTERM now, SIGKILL after the attempt's grace period; once per attempt.
  void cancel(ActiveAttempt& active, std::string_view why);
  void on_attempt_done(const std::string& key, const std::string& attempt_id,
                       runners::AttemptResult result);
  void forget_attempt(const std::string& key);

  // Writes task.status when it differs from what `object` holds.
  Status write_status(Json& object, Task& task);
  // Updates the Task (resourceVersion precondition from `desired`) and
  // refreshes `object` and `task` from what was stored.
  Status write_task(Json& object, Task& task, Json desired, api::Subresource subresource);
  // Creates or overwrites the TaskRun of an attempt; kOnlyIfOpen leaves
  // one that is already finished as it is.
  enum class RunWrite { kAlways, kOnlyIfOpen };
  Status put_task_run(const Task& task, int64_t generation, int64_t attempt, TaskRunStatus status,
                      RunWrite mode = RunWrite::kAlways);
  Status trim_run_history(const Task& task);
  Status delete_task_runs(const std::string& ns, const std::string& label_selector);
  void remove_logs(const std::string& ns, const std::string& name);

  std::string slot_key(const Task& task) const;
  void leave_slots(const std::string& key, const std::string& except = "");
  void release_slot(const std::string& slot_key, const std::string& key);
  // Whether `key` goes first in a slot nobody owns: its next look admits it.
  // A key that joins a slot and finds it so has nothing else to wake it (no
  // owner's end, and its write's echo is skipped), so it nudges itself.
  bool next_in_free_slot(const std::string& slot_key, const std::string& key) const;

  api::Registry& tasks_;
  api::Registry& task_runs_;
  Clock& clock_;
  runners::Router& router_;
  RandomSource& random_;
  const ControllerOptions options_;

  WorkQueue queue_;
  std::unique_ptr<ListWatch> list_watch_;
  Informer informer_;
  std::thread informer_thread_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};

  // Guards everything below, except the atomics.
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<ActiveAttempt>> active_;
  std::map<std::string, Slot> slots_;  // only slots someone owns or waits for
  // key → the slot it waits in (queued or as a Replace's next), so that
  // leaving looks at that one rather than at every slot: a scan of all
  // slots per reconcile was ~6% of a 10,000-Task burst. One slot at most:
  // a key joins a slot only after leaving every other. May name a slot the
  // key has left since; leave_slots checks.
  std::map<std::string, std::string> waiting_in_;
  std::set<std::string> displaced_;  // queued Replace newcomers a later Replace displaced
  // Admitted Tasks waiting for max_parallel room, woken first come first
  // served and only as many as there is room for: waking all of them at
  // every attempt's end made a 10,000-Task burst quadratic.
  void wait_for_capacity(const std::string& key);
  void stop_waiting_for_capacity(const std::string& key);
  void wake_capacity_waiters();
  std::map<std::string, uint64_t> capacity_waiters_;  // key → its place in the line
  std::map<uint64_t, std::string> capacity_line_;     // place → key
  std::set<std::string> capacity_woken_;              // queued to take room, not yet reconciled
  uint64_t capacity_places_ = 0;
  // The echo of a reconcile's own write: key → the resourceVersion it
  // wrote, kept when it then found nothing left to do. The event that write
  // causes queues the key again; if the informer still holds that version
  // and nothing inside the controller asked for the key since (nudge: an
  // attempt's end, room, a slot), the reconcile would decide the same, so
  // it is skipped: half of a burst's reconciles were echoes. Entries of
  // both live until the key's next process(), which their queueing ensures.
  bool is_echo(const std::string& key);  // takes the key's entry out
  // An attempt's end is queued with kHigh, ahead of the informer's events:
  // behind a burst of new Tasks, ended attempts waited for thousands of
  // reconciles, each holding its descriptors (which every later exec had to
  // copy and close) and filling --max-parallel with processes long gone.
  void nudge(const std::string& key, WorkQueue::Priority priority = WorkQueue::Priority::kNormal);
  std::map<std::string, std::string> settled_at_;
  std::set<std::string> nudged_;
  std::condition_variable_any turn_passed_;
  uint64_t turns_through_ = 0;       // every turn up to this one has passed
  std::set<uint64_t> turns_passed_;  // passed turns beyond turns_through_
  size_t turn_waiters_ = 0;          // in take_turn() now
  std::atomic<size_t> running_{0};
  std::atomic<uint64_t> reconciles_{0};
};

}  // namespace solti::reconciler
