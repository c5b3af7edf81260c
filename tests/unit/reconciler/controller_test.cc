// The controller's lifecycle against a real registry and store, with a
// fake runner whose attempts end when the test says and a FakeClock that
// moves only when the test says: every decision of DESIGN §5 is checked
// without sleeping.
#include "reconciler/controller.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "apiserver/resources.h"
#include "model/json_codec.h"
#include "reconciler/lifecycle.h"
#include "tests/unit/store/store_fixture.h"

namespace solti::reconciler {
namespace {

using namespace std::chrono_literals;
using runners::AttemptResult;
using runners::Outcome;

class FakeRunner final : public runners::Runner {
 public:
  struct Started {
    runners::AttemptRequest request;
    std::function<void(AttemptResult)> done;
    std::optional<std::chrono::milliseconds> canceled_with_grace;
    bool finished = false;
  };

  explicit FakeRunner(boost::asio::io_context& loop) : loop_(loop) {}
  std::string_view name() const override { return "fake"; }
  bool supports(const TaskSpec& spec) const override { return spec.subprocess.has_value(); }

  std::shared_ptr<runners::Attempt> start(runners::AttemptRequest request,
                                          std::function<void(AttemptResult)> done) override {
    auto s = std::make_shared<Started>();
    s->request = std::move(request);
    s->done = std::move(done);
    started.push_back(s);
    return std::make_shared<Handle>(started.back());
  }

  // Ends attempt `i` (0-based, in start order) the way a process would.
  void finish(size_t i, Outcome outcome, std::optional<int> exit_code = std::nullopt) {
    ASSERT_LT(i, started.size());
    auto s = started[i];
    ASSERT_FALSE(s->finished);
    s->finished = true;
    AttemptResult r;
    r.outcome = outcome;
    r.exit_code = exit_code;
    r.reason = outcome == Outcome::kTimedOut ? "Timeout" : "ProcessExited";
    r.message = exit_code ? "process exited with code " + std::to_string(*exit_code) : "ended";
    boost::asio::post(loop_, [s, r] { s->done(r); });
  }

  std::vector<std::shared_ptr<Started>> started;

 private:
  struct Handle final : runners::Attempt {
    explicit Handle(std::shared_ptr<Started> s) : s(std::move(s)) {}
    void cancel(std::chrono::milliseconds grace) override { s->canceled_with_grace = grace; }
    std::shared_ptr<Started> s;
  };
  boost::asio::io_context& loop_;
};

// The Task strategy, with a hook run inside each /status write: while the
// writing reconcile has the controller unlocked.
class StatusWriteHook final : public api::Strategy {
 public:
  explicit StatusWriteHook(const api::Strategy& inner) : inner_(inner) {}
  mutable std::function<void()> hook;

  const api::ResourceInfo& info() const override { return inner_.info(); }
  api::Checked check(const Json& o) const override { return inner_.check(o); }
  FieldErrors validate(const Json& o) const override { return inner_.validate(o); }
  void prepare_for_create(Json& o) const override { inner_.prepare_for_create(o); }
  void prepare_for_update(Json& o, const Json& old) const override {
    inner_.prepare_for_update(o, old);
  }
  void prepare_for_status_update(Json& o, const Json& old) const override {
    if (auto run = std::exchange(hook, nullptr)) run();
    inner_.prepare_for_status_update(o, old);
  }
  std::vector<std::string_view> selectable_fields() const override {
    return inner_.selectable_fields();
  }
  std::string field_value(const Json& o, std::string_view f) const override {
    return inner_.field_value(o, f);
  }
  Json table_columns() const override { return inner_.table_columns(); }
  Json table_cells(const Json& o, Timestamp now) const override {
    return inner_.table_cells(o, now);
  }
  Json openapi_schema() const override { return inner_.openapi_schema(); }

 private:
  const api::Strategy& inner_;
};

// The store, with the reads of one key held until another key has been
// read and `hold` has passed: a reconcile whose read of the store is slow.
class SlowReadStore final : public store::Store {
 public:
  SlowReadStore(store::Store& inner, std::string slow_key, std::string first_key,
                std::chrono::milliseconds hold)
      : inner_(inner),
        slow_key_(std::move(slow_key)),
        first_key_(std::move(first_key)),
        hold_(hold) {}

  Result<store::StoredObject> get(std::string_view key) override {
    if (key.ends_with(slow_key_)) {
      std::unique_lock lock(mu_);
      // Bounded, so that a controller that never reads first_key_ fails
      // the test rather than hanging it.
      first_read_.wait_for(lock, std::chrono::seconds(10), [&] { return first_read_done_; });
      lock.unlock();
      std::this_thread::sleep_for(hold_);
    }
    auto got = inner_.get(key);
    if (key.ends_with(first_key_)) {
      std::lock_guard lock(mu_);
      first_read_done_ = true;
      first_read_.notify_all();
    }
    return got;
  }
  Result<store::ListResult> list(const store::ListOptions& o) override { return inner_.list(o); }
  Result<store::StoredObject> create(std::string_view key, Json object) override {
    return inner_.create(key, std::move(object));
  }
  Result<store::StoredObject> update(std::string_view key, Json object,
                                     const store::Preconditions& p) override {
    return inner_.update(key, std::move(object), p);
  }
  Result<store::StoredObject> remove(std::string_view key, const store::Preconditions& p) override {
    return inner_.remove(key, p);
  }
  Result<std::unique_ptr<store::Watcher>> watch(std::string prefix, uint64_t after) override {
    return inner_.watch(std::move(prefix), after);
  }
  std::unique_ptr<store::PublishSubscription> on_publish(std::function<void()> l) override {
    return inner_.on_publish(std::move(l));
  }
  uint64_t revision() override { return inner_.revision(); }
  uint64_t compacted_revision() override { return inner_.compacted_revision(); }
  Status compact() override { return inner_.compact(); }
  store::Stats stats() override { return inner_.stats(); }
  Status health() override { return inner_.health(); }

 private:
  store::Store& inner_;
  const std::string slow_key_, first_key_;
  const std::chrono::milliseconds hold_;
  std::mutex mu_;
  std::condition_variable first_read_;
  bool first_read_done_ = false;
};

// Pins every random draw to the top of its range.
class MaxRandom final : public RandomSource {
 public:
  uint64_t uniform(uint64_t, uint64_t hi) override { return hi; }
};

class ControllerTest : public store::testing::StoreFixture {
 protected:
  void SetUp() override {
    options_.sync_writes = false;
    open();
    task_strategy_ = api::make_task_strategy();
    run_strategy_ = api::make_task_run_strategy();
    tasks_ = std::make_unique<api::Registry>(*store_, *task_strategy_, clock_);
    runs_ = std::make_unique<api::Registry>(*store_, *run_strategy_, clock_);
    auto runner = std::make_unique<FakeRunner>(loop_);
    runner_ = runner.get();
    router_.add(std::move(runner));
    start_controller();
  }

  void TearDown() override { controller_.reset(); }

  void start_controller(size_t max_parallel = 0) {
    controller_.reset();
    ControllerOptions options;
    options.max_parallel = max_parallel;
    options.logs_dir = std::filesystem::path(dir_) / "logs";
    options.run_history_limit = 5;
    controller_ = std::make_unique<Controller>(*tasks_, *runs_, clock_, router_, random_, options);
  }

  // Lets the controller see every write so far and act on it, until three
  // rounds in a row change nothing. (Its timer handlers do not count: the
  // timer is armed in real time for FakeClock deadlines that only advance()
  // reaches.)
  void settle() {
    for (int quiet = 0, round = 0; quiet < 3 && round < 200; ++round) {
      const auto revision = store_->revision();
      const size_t started = runner_->started.size();
      ASSERT_TRUE(controller_->pump_events(std::chrono::steady_clock::now() + 2ms).ok());
      loop_.restart();  // a poll that ran out of work leaves the loop stopped
      loop_.poll();
      controller_->run_ready();
      const bool changed = store_->revision() != revision || runner_->started.size() != started;
      quiet = changed ? 0 : quiet + 1;
    }
  }

  void advance(std::chrono::milliseconds by) {
    clock_.advance(by);
    controller_->run_ready();
    settle();
  }

  void create(const std::string& name, Json spec) {
    if (!spec.contains("timeout")) spec["timeout"] = "1m";
    if (!spec.contains("subprocess")) spec["subprocess"] = {{"command", "/bin/true"}};
    Json task = {{"apiVersion", "solti.io/v1"},
                 {"kind", "Task"},
                 {"metadata", {{"name", name}}},
                 {"spec", spec}};
    auto created = tasks_->create("default", task, {});
    ASSERT_TRUE(created.ok()) << created.status().to_string();
  }

  void patch_spec(const std::string& name, Json spec_patch) {
    auto patched = tasks_->patch("default", name, api::PatchType::kMerge, {{"spec", spec_patch}},
                                 api::Subresource::kMain, {});
    ASSERT_TRUE(patched.ok()) << patched.status().to_string();
  }

  Task task(const std::string& name) {
    auto got = tasks_->get("default", name);
    EXPECT_TRUE(got.ok()) << got.status().to_string();
    DecodeReport report;
    return got.ok() ? decode_json<Task>(*got, report) : Task{};
  }

  std::optional<TaskRun> run(const std::string& name) {
    auto got = runs_->get("default", name);
    if (!got.ok()) return std::nullopt;
    DecodeReport report;
    return decode_json<TaskRun>(*got, report);
  }

  size_t run_count(const std::string& task_name) {
    api::ListQuery q;
    q.labels = Selector::parse("solti.io/task=" + task_name).value();
    return runs_->list("default", q)->items.size();
  }

  static std::string condition(const Task& t, const std::string& type) {
    for (const auto& c : t.status.conditions)
      if (c.type == type) return std::string(enum_name(*c.status)) + "/" + c.reason;
    return "";
  }

  std::chrono::milliseconds until_next_attempt(const Task& t) {
    EXPECT_TRUE(t.status.next_attempt_time.has_value());
    return t.status.next_attempt_time ? *t.status.next_attempt_time - clock_.now() : 0ms;
  }

  boost::asio::io_context loop_;
  std::unique_ptr<api::Strategy> task_strategy_, run_strategy_;
  std::unique_ptr<api::Registry> tasks_, runs_;
  runners::Router router_;
  FakeRunner* runner_ = nullptr;
  MaxRandom random_;
  std::unique_ptr<Controller> controller_;
};

TEST_F(ControllerTest, SuccessfulAttemptEndsSucceededWithItsTaskRun) {
  create("hello", {});
  settle();
  ASSERT_EQ(runner_->started.size(), 1u);
  Task t = task("hello");
  EXPECT_EQ(t.status.phase, TaskPhase::kRunning);
  EXPECT_EQ(t.status.attempt, 1);
  EXPECT_EQ(t.status.observed_generation, 1);
  EXPECT_EQ(t.metadata.finalizers, std::vector<std::string>{"solti.io/runner"});
  EXPECT_EQ(condition(t, "Reconciling"), "True/AttemptStarted");
  EXPECT_EQ(run("hello-1-1")->status.phase, TaskPhase::kRunning);
  EXPECT_TRUE(runner_->started[0]->request.log_path.ends_with("logs/default/hello/1-1.log"));
  EXPECT_EQ(controller_->running_attempts(), 1u);

  runner_->finish(0, Outcome::kSucceeded, 0);
  settle();
  t = task("hello");
  EXPECT_EQ(t.status.phase, TaskPhase::kSucceeded);
  EXPECT_EQ(t.status.exit_code, 0);
  EXPECT_TRUE(t.status.completion_time.has_value());
  EXPECT_EQ(condition(t, "Succeeded"), "True/ProcessExited");
  EXPECT_EQ(condition(t, "Reconciling"), "False/ProcessExited");
  auto r = run("hello-1-1");
  EXPECT_EQ(r->status.phase, TaskPhase::kSucceeded);
  EXPECT_EQ(r->status.exit_code, 0);
  EXPECT_EQ(r->metadata.labels["solti.io/task"], "hello");
  ASSERT_EQ(r->metadata.owner_references.size(), 1u);
  EXPECT_EQ(r->metadata.owner_references[0].uid, t.metadata.uid);
  EXPECT_EQ(runner_->started.size(), 1u);
  EXPECT_EQ(controller_->running_attempts(), 0u);
}

TEST_F(ControllerTest, TheEchoOfItsOwnWriteIsNotReconciledAgain) {
  create("echo", {});
  settle();
  ASSERT_EQ(runner_->started.size(), 1u);
  // The create's event; the echo of the finalizer and Running is skipped.
  EXPECT_EQ(controller_->reconciles(), 1u);
  runner_->finish(0, Outcome::kSucceeded, 0);
  settle();
  EXPECT_EQ(task("echo").status.phase, TaskPhase::kSucceeded);
  // The attempt's end; the echo of Succeeded is skipped.
  EXPECT_EQ(controller_->reconciles(), 2u);

  // A write by someone else is not an echo.
  auto labeled =
      tasks_->patch("default", "echo", api::PatchType::kMerge,
                    {{"metadata", {{"labels", {{"a", "b"}}}}}}, api::Subresource::kMain, {});
  ASSERT_TRUE(labeled.ok()) << labeled.status().to_string();
  settle();
  EXPECT_EQ(controller_->reconciles(), 3u);
}

TEST_F(ControllerTest, AnEchoQueuedWithANudgeIsStillReconciled) {
  start_controller(1);
  create("first", {});
  settle();
  create("second", {});
  ASSERT_TRUE(controller_->pump_events(std::chrono::steady_clock::now() + 2ms).ok());
  controller_->run_ready();
  ASSERT_EQ(condition(task("second"), "Reconciling"), "True/WaitingForCapacity");
  // first's end is queued before the echo of second's Pending, so second is
  // taken once for both: the capacity first's end frees, and its echo.
  runner_->finish(0, Outcome::kSucceeded, 0);
  loop_.restart();
  loop_.poll();
  ASSERT_TRUE(controller_->pump_events(std::chrono::steady_clock::now() + 2ms).ok());
  controller_->run_ready();
  EXPECT_EQ(runner_->started.size(), 2u);
  EXPECT_EQ(task("second").status.phase, TaskPhase::kRunning);
}

TEST_F(ControllerTest, ANudgeWhileTheReconcileWritesIsNotLostToItsEcho) {
  StatusWriteHook hooked(*task_strategy_);
  tasks_ = std::make_unique<api::Registry>(*store_, hooked, clock_);
  start_controller(1);
  create("first", {});
  settle();
  create("second", {});
  ASSERT_TRUE(controller_->pump_events(std::chrono::steady_clock::now() + 2ms).ok());
  runner_->finish(0, Outcome::kSucceeded, 0);
  // While second writes that it waits for room, first's end is reconciled
  // and frees the room, waking second before its write is done.
  hooked.hook = [&] {
    loop_.restart();
    loop_.poll();
    controller_->run_ready();
  };
  controller_->run_ready(1);
  ASSERT_EQ(task("first").status.phase, TaskPhase::kSucceeded);
  // The echo of second's write is in before second is taken again.
  settle();
  EXPECT_EQ(runner_->started.size(), 2u);
  EXPECT_EQ(task("second").status.phase, TaskPhase::kRunning);
}

TEST_F(ControllerTest, AnEndedAttemptIsRecordedBeforeNewTasksStart) {
  create("early", {});
  settle();
  create("new-1", {});
  create("new-2", {});
  ASSERT_TRUE(controller_->pump_events(std::chrono::steady_clock::now() + 2ms).ok());
  runner_->finish(0, Outcome::kSucceeded, 0);
  loop_.restart();
  loop_.poll();
  controller_->run_ready(1);
  EXPECT_EQ(task("early").status.phase, TaskPhase::kSucceeded);
  EXPECT_EQ(runner_->started.size(), 1u);
  settle();
  EXPECT_EQ(runner_->started.size(), 3u);
}

TEST_F(ControllerTest, TasksForAFreeSlotAreAdmittedInTheOrderTheyCame) {
  // The older Task's read of the store finishes 100 ms after the newer
  // one's: its worker must still decide first.
  SlowReadStore slow(*store_, "/default/older", "/default/newer", 100ms);
  // As in soltid: the runner finalizer comes with the create, so that the
  // first reconcile has no write to make before it admits.
  task_strategy_ = api::make_task_strategy(true);
  tasks_ = std::make_unique<api::Registry>(slow, *task_strategy_, clock_);
  start_controller();
  controller_->start();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  // Once this one runs, the informer watches: the next two come as events
  // in the order created, not in the name order of its first list.
  create("warm-up", {});
  while (task("warm-up").status.phase != TaskPhase::kRunning &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  const Json spec = {{"slot", "s"}, {"admission", "Queue"}};
  create("older", spec);
  create("newer", spec);
  while ((task("older").status.phase != TaskPhase::kRunning ||
          task("newer").status.reason != "Queued") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  controller_.reset();  // joins the workers: runner_ is theirs until then
  EXPECT_EQ(task("older").status.phase, TaskPhase::kRunning);
  EXPECT_EQ(task("newer").status.reason, "Queued");
  ASSERT_EQ(runner_->started.size(), 2u);
  EXPECT_NE(runner_->started[1]->request.log_path.find("/older/"), std::string::npos);
}

TEST_F(ControllerTest, AReplaceThatFindsItsSlotFreeIsNotLeftWaiting) {
  const Json spec = {{"slot", "s"}, {"admission", "Replace"}};
  create("r1", spec);
  settle();
  create("r2", spec);
  settle();
  ASSERT_EQ(runner_->started.size(), 1u);
  ASSERT_TRUE(runner_->started[0]->canceled_with_grace.has_value());
  runner_->finish(0, Outcome::kCanceled);
  loop_.restart();
  loop_.poll();
  create("r3", spec);
  ASSERT_TRUE(controller_->pump_events(std::chrono::steady_clock::now() + 2ms).ok());
  // r1's end frees the slot and wakes r2, queued behind r3; r3 then displaces
  // r2 from a slot nobody owns, so no owner's end will wake r3.
  controller_->run_ready(2);
  settle();
  EXPECT_EQ(task("r2").status.reason, "SupersededByReplace");
  ASSERT_EQ(runner_->started.size(), 2u);
  EXPECT_TRUE(runner_->started[1]->request.log_path.find("/r3/") != std::string::npos);
  EXPECT_EQ(task("r3").status.phase, TaskPhase::kRunning);
}

TEST_F(ControllerTest, AnOlderTaskThatQueuesFirstInAFreeSlotIsNotLeftWaiting) {
  const Json spec = {{"slot", "s"}, {"admission", "Queue"}};
  Json suspended = spec;
  suspended["suspend"] = true;
  create("older", suspended);
  clock_.advance(1s);
  create("owner", spec);
  settle();
  clock_.advance(1s);
  create("newer", spec);
  settle();
  ASSERT_EQ(runner_->started.size(), 1u);
  ASSERT_EQ(task("newer").status.reason, "Queued");
  runner_->finish(0, Outcome::kSucceeded, 0);
  loop_.restart();
  loop_.poll();
  patch_spec("older", {{"suspend", false}});
  ASSERT_TRUE(controller_->pump_events(std::chrono::steady_clock::now() + 2ms).ok());
  // owner's end frees the slot and wakes newer, queued behind older; older
  // then queues ahead of newer in a slot nobody owns.
  controller_->run_ready(2);
  settle();
  ASSERT_EQ(runner_->started.size(), 2u);
  EXPECT_EQ(task("older").status.phase, TaskPhase::kRunning);
  EXPECT_EQ(task("newer").status.reason, "Queued");
}

TEST_F(ControllerTest, NeverPolicyFailureIsExhaustedWithTheExitCode) {
  create("fails", {});
  settle();
  runner_->finish(0, Outcome::kFailed, 3);
  settle();
  Task t = task("fails");
  EXPECT_EQ(t.status.phase, TaskPhase::kExhausted);
  EXPECT_EQ(t.status.exit_code, 3);
  EXPECT_EQ(condition(t, "Succeeded"), "False/ProcessExited");
  EXPECT_EQ(runner_->started.size(), 1u);
}

TEST_F(ControllerTest, MaxRetriesBoundsConsecutiveFailuresWithBackoffBetween) {
  create("retry",
         {{"restartPolicy", "OnFailure"},
          {"maxRetries", 2},
          {"backoff", {{"first", "1s"}, {"max", "30s"}, {"factor", 2}, {"jitter", "None"}}}});
  settle();
  runner_->finish(0, Outcome::kFailed, 1);
  settle();
  Task t = task("retry");
  EXPECT_EQ(t.status.phase, TaskPhase::kPending);
  EXPECT_EQ(t.status.reason, "BackOff");
  EXPECT_EQ(t.status.consecutive_failures, 1);
  EXPECT_EQ(until_next_attempt(t), 1000ms);
  EXPECT_EQ(condition(t, "Reconciling"), "True/BackOff");

  advance(999ms);
  EXPECT_EQ(runner_->started.size(), 1u) << "started before the backoff elapsed";
  advance(1ms);
  ASSERT_EQ(runner_->started.size(), 2u);
  EXPECT_EQ(task("retry").status.attempt, 2);

  runner_->finish(1, Outcome::kTimedOut);
  settle();
  EXPECT_EQ(until_next_attempt(task("retry")), 2000ms);  // first * factor^1
  advance(2000ms);
  ASSERT_EQ(runner_->started.size(), 3u);
  runner_->finish(2, Outcome::kFailed, 1);
  settle();
  t = task("retry");
  EXPECT_EQ(t.status.phase, TaskPhase::kExhausted);
  EXPECT_EQ(t.status.attempt, 3);
  EXPECT_EQ(t.status.consecutive_failures, 3);
  EXPECT_FALSE(t.status.next_attempt_time.has_value());
  EXPECT_EQ(run_count("retry"), 3u);
  EXPECT_EQ(run("retry-1-2")->status.phase, TaskPhase::kTimeout);
  advance(1h);
  EXPECT_EQ(runner_->started.size(), 3u);
}

TEST_F(ControllerTest, FullJitterDelaysStayWithinTheFormulasBounds) {
  // MaxRandom draws the top of U[0, base], so each delay is exactly base(k)
  // = min(max, first * factor^k): 500, 1500, 4500, 5000, 5000.
  create("jitter", {{"restartPolicy", "OnFailure"},
                    {"backoff", {{"first", "500ms"}, {"max", "5s"}, {"factor", 3}}}});
  settle();
  const std::vector<std::chrono::milliseconds> expected = {500ms, 1500ms, 4500ms, 5000ms, 5000ms};
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(runner_->started.size(), i + 1);
    runner_->finish(i, Outcome::kFailed, 1);
    settle();
    const auto delay = until_next_attempt(task("jitter"));
    EXPECT_EQ(delay, expected[i]) << "retry " << i;
    advance(delay);
  }
}

TEST_F(ControllerTest, SucceedsOnTheThirdAttemptAndResetsTheFailureCount) {
  create("flaky", {{"restartPolicy", "OnFailure"}, {"backoff", {{"jitter", "None"}}}});
  settle();
  for (size_t i = 0; i < 2; ++i) {
    runner_->finish(i, Outcome::kFailed, 1);
    settle();
    advance(until_next_attempt(task("flaky")));
  }
  ASSERT_EQ(runner_->started.size(), 3u);
  runner_->finish(2, Outcome::kSucceeded, 0);
  settle();
  Task t = task("flaky");
  EXPECT_EQ(t.status.phase, TaskPhase::kSucceeded);
  EXPECT_EQ(t.status.attempt, 3);
  EXPECT_EQ(t.status.consecutive_failures, 0);
}

TEST_F(ControllerTest, TimeoutWithoutRetryEndsTimeout) {
  create("slow", {{"timeout", "1s"}});
  settle();
  runner_->finish(0, Outcome::kTimedOut);
  settle();
  EXPECT_EQ(task("slow").status.phase, TaskPhase::kTimeout);
}

TEST_F(ControllerTest, StartFailureIsFatalAndStalled) {
  create("missing", {{"restartPolicy", "OnFailure"}});
  settle();
  runner_->finish(0, Outcome::kStartFailed);
  settle();
  Task t = task("missing");
  EXPECT_EQ(t.status.phase, TaskPhase::kFailed);
  EXPECT_EQ(condition(t, "Stalled").substr(0, 4), "True");
  advance(1h);
  EXPECT_EQ(runner_->started.size(), 1u);
}

TEST_F(ControllerTest, AlwaysRunsAgainAfterTheRestartInterval) {
  create("periodic", {{"restartPolicy", "Always"}, {"restartInterval", "1s"}});
  settle();
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(runner_->started.size(), i + 1);
    runner_->finish(i, Outcome::kSucceeded, 0);
    settle();
    Task t = task("periodic");
    EXPECT_EQ(t.status.phase, TaskPhase::kSucceeded);
    EXPECT_EQ(t.status.reason, "WaitingForNextRun");
    EXPECT_EQ(until_next_attempt(t), 1000ms);
    advance(999ms);
    EXPECT_EQ(runner_->started.size(), i + 1);
    advance(1ms);
  }
  EXPECT_EQ(task("periodic").status.attempt, 4);
}

TEST_F(ControllerTest, AdmissionPerSlotDropQueueReplace) {
  create("a-running", {{"slot", "s"}});
  settle();
  ASSERT_EQ(runner_->started.size(), 1u);
  clock_.advance(1s);
  create("b-drop", {{"slot", "s"}, {"admission", "DropIfRunning"}});
  clock_.advance(1s);
  create("c-queue", {{"slot", "s"}, {"admission", "Queue"}});
  settle();
  Task b = task("b-drop");
  EXPECT_EQ(b.status.phase, TaskPhase::kCanceled);
  EXPECT_EQ(b.status.reason, "SlotBusy");
  EXPECT_EQ(task("c-queue").status.phase, TaskPhase::kPending);
  EXPECT_EQ(task("c-queue").status.reason, "Queued");

  clock_.advance(1s);
  create("d-replace", {{"slot", "s"}, {"admission", "Replace"}});
  settle();
  ASSERT_TRUE(runner_->started[0]->canceled_with_grace.has_value());
  EXPECT_EQ(*runner_->started[0]->canceled_with_grace, 10s);  // the default grace period
  EXPECT_EQ(task("d-replace").status.reason, "WaitingForSlot");
  EXPECT_EQ(runner_->started.size(), 1u) << "the newcomer started before the old one was gone";

  runner_->finish(0, Outcome::kCanceled);
  settle();
  Task a = task("a-running");
  EXPECT_EQ(a.status.phase, TaskPhase::kCanceled);
  EXPECT_EQ(a.status.reason, "SupersededByReplace");
  ASSERT_EQ(runner_->started.size(), 2u);
  EXPECT_EQ(runner_->started[1]->request.id, "default/d-replace@1#1");
  EXPECT_EQ(task("c-queue").status.phase, TaskPhase::kPending);

  runner_->finish(1, Outcome::kSucceeded, 0);
  settle();
  ASSERT_EQ(runner_->started.size(), 3u);
  EXPECT_EQ(runner_->started[2]->request.id, "default/c-queue@1#1");
  EXPECT_EQ(task("b-drop").status.phase, TaskPhase::kCanceled);
}

TEST_F(ControllerTest, ATaskLeavesTheQueueItMovesOutOfOrIsDeletedFrom) {
  create("owner", {{"slot", "s"}});
  settle();
  for (const char* name : {"q-mover", "q-deleted", "q-last"}) {
    clock_.advance(1s);
    create(name, {{"slot", "s"}, {"admission", "Queue"}});
  }
  settle();
  ASSERT_EQ(task("q-mover").status.reason, "Queued");
  // The head of the queue moves to a free slot: it runs there at once.
  patch_spec("q-mover", {{"slot", "elsewhere"}});
  settle();
  ASSERT_EQ(runner_->started.size(), 2u);
  EXPECT_EQ(runner_->started[1]->request.id, "default/q-mover@2#1");
  // The next in line is deleted while it waits.
  ASSERT_TRUE(tasks_->remove("default", "q-deleted", {}).ok());
  settle();
  // When the owner ends, the one left in the queue goes, and nobody else.
  runner_->finish(0, Outcome::kSucceeded, 0);
  settle();
  ASSERT_EQ(runner_->started.size(), 3u);
  EXPECT_EQ(runner_->started[2]->request.id, "default/q-last@1#1");
  // The moved Task ending frees its own slot, not the one it left.
  runner_->finish(1, Outcome::kSucceeded, 0);
  settle();
  EXPECT_EQ(runner_->started.size(), 3u);
}

TEST_F(ControllerTest, QueueBeyondItsBoundFailsWithQueueFull) {
  create("holder", {{"slot", "busy"}});
  settle();
  for (size_t i = 0; i < kMaxSlotQueueDepth + 1; ++i) {
    clock_.advance(1ms);
    create("q-" + std::to_string(1000 + i), {{"slot", "busy"}, {"admission", "Queue"}});
  }
  settle();
  EXPECT_EQ(task("q-1000").status.reason, "Queued");
  EXPECT_EQ(task("q-1099").status.reason, "Queued");
  Task last = task("q-1100");
  EXPECT_EQ(last.status.phase, TaskPhase::kFailed);
  EXPECT_EQ(last.status.reason, "QueueFull");
  // FIFO by creation: the first queued runs next.
  runner_->finish(0, Outcome::kSucceeded, 0);
  settle();
  ASSERT_EQ(runner_->started.size(), 2u);
  EXPECT_EQ(runner_->started[1]->request.id, "default/q-1000@1#1");
}

TEST_F(ControllerTest, SuspendCancelsTheRunningAttempt) {
  create("sus", {{"terminationGracePeriod", "2s"}});
  settle();
  patch_spec("sus", {{"suspend", true}});
  settle();
  ASSERT_TRUE(runner_->started[0]->canceled_with_grace.has_value());
  EXPECT_EQ(*runner_->started[0]->canceled_with_grace, 2s);
  runner_->finish(0, Outcome::kCanceled);
  settle();
  Task t = task("sus");
  EXPECT_EQ(t.status.phase, TaskPhase::kCanceled);
  EXPECT_EQ(t.status.reason, "Suspended");
  EXPECT_EQ(t.status.observed_generation, 2);
  EXPECT_EQ(run("sus-1-1")->status.phase, TaskPhase::kCanceled);
  EXPECT_EQ(runner_->started.size(), 1u);

  patch_spec("sus", {{"suspend", false}});
  settle();
  ASSERT_EQ(runner_->started.size(), 2u);
  EXPECT_EQ(runner_->started[1]->request.id, "default/sus@3#1");
}

TEST_F(ControllerTest, SpecChangeWhileRunningRestartsWithTheNewGeneration) {
  create("change", {});
  settle();
  patch_spec("change", {{"subprocess", {{"command", "/bin/echo"}, {"args", {"new"}}}}});
  settle();
  ASSERT_TRUE(runner_->started[0]->canceled_with_grace.has_value());
  EXPECT_EQ(runner_->started.size(), 1u) << "the new generation started before the old stopped";
  runner_->finish(0, Outcome::kCanceled);
  settle();
  ASSERT_EQ(runner_->started.size(), 2u);
  EXPECT_EQ(runner_->started[1]->request.spec.subprocess->args, std::vector<std::string>{"new"});
  Task t = task("change");
  EXPECT_EQ(t.status.observed_generation, 2);
  EXPECT_EQ(t.status.attempt, 1);
  EXPECT_EQ(t.status.phase, TaskPhase::kRunning);
  EXPECT_EQ(run("change-1-1")->status.reason, "SpecChanged");
  EXPECT_EQ(run("change-2-1")->status.phase, TaskPhase::kRunning);
}

TEST_F(ControllerTest, DeleteCancelsThenRemovesTheTaskAndItsRuns) {
  create("doomed", {});
  settle();
  ASSERT_TRUE(tasks_->remove("default", "doomed", {}).ok());
  settle();
  ASSERT_TRUE(runner_->started[0]->canceled_with_grace.has_value());
  EXPECT_TRUE(task("doomed").metadata.deletion_timestamp.has_value());
  runner_->finish(0, Outcome::kCanceled);
  settle();
  EXPECT_EQ(tasks_->get("default", "doomed").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(run_count("doomed"), 0u);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir_) / "logs/default/doomed"));
}

TEST_F(ControllerTest, AttemptsLeftRunningByAnEarlierSoltidAreAgentRestarted) {
  create("interrupted", {{"restartPolicy", "OnFailure"}, {"backoff", {{"jitter", "None"}}}});
  settle();
  ASSERT_EQ(task("interrupted").status.phase, TaskPhase::kRunning);
  start_controller();  // the old controller is gone; its attempt never reported
  settle();
  Task t = task("interrupted");
  EXPECT_EQ(t.status.phase, TaskPhase::kPending);
  EXPECT_EQ(t.status.consecutive_failures, 1);
  EXPECT_EQ(until_next_attempt(t), 1000ms);
  auto r = run("interrupted-1-1");
  EXPECT_EQ(r->status.phase, TaskPhase::kFailed);
  EXPECT_EQ(r->status.reason, "AgentRestarted");
  advance(1s);
  EXPECT_EQ(task("interrupted").status.attempt, 2);
  EXPECT_EQ(task("interrupted").status.phase, TaskPhase::kRunning);
}

TEST_F(ControllerTest, ARunInterruptedByARestartIsClosedEvenAfterASpecChange) {
  create("moved-on", {});
  settle();
  start_controller();  // the attempt of generation 1 never reports
  patch_spec("moved-on", {{"subprocess", {{"command", "/bin/echo"}}}});
  settle();
  auto old_run = run("moved-on-1-1");
  EXPECT_EQ(old_run->status.phase, TaskPhase::kFailed);
  EXPECT_EQ(old_run->status.reason, "AgentRestarted");
  Task t = task("moved-on");
  EXPECT_EQ(t.status.observed_generation, 2);
  EXPECT_EQ(t.status.phase, TaskPhase::kRunning);
  EXPECT_EQ(t.status.attempt, 1);
}

TEST_F(ControllerTest, RunHistoryKeepsTheNewestRuns) {
  create("chatty", {{"restartPolicy", "Always"}});
  settle();
  for (size_t i = 0; i < 8; ++i) {
    runner_->finish(i, Outcome::kSucceeded, 0);
    settle();
  }
  EXPECT_EQ(run_count("chatty"), 5u);  // the limit set in start_controller()
  EXPECT_FALSE(run("chatty-1-1").has_value());
  EXPECT_TRUE(run("chatty-1-9").has_value());
}

TEST_F(ControllerTest, MaxParallelHoldsAttemptsBeyondTheLimit) {
  start_controller(2);
  create("p1", {});
  create("p2", {});
  create("p3", {});
  settle();
  ASSERT_EQ(runner_->started.size(), 2u);
  EXPECT_EQ(controller_->running_attempts(), 2u);
  Task waiting = task("p3");
  EXPECT_EQ(waiting.status.phase, TaskPhase::kPending);
  EXPECT_EQ(waiting.status.reason, "WaitingForCapacity");
  runner_->finish(0, Outcome::kSucceeded, 0);
  settle();
  ASSERT_EQ(runner_->started.size(), 3u);
  EXPECT_EQ(runner_->started[2]->request.id, "default/p3@1#1");
}

TEST_F(ControllerTest, NoMatchingRunnerStallsPending) {
  create("picky", {{"runnerSelector", {{"matchLabels", {{"solti.io/runner", "container"}}}}}});
  settle();
  Task t = task("picky");
  EXPECT_EQ(t.status.phase, TaskPhase::kPending);
  EXPECT_EQ(t.status.reason, "NoRunner");
  EXPECT_EQ(condition(t, "Stalled"), "True/NoRunner");
  EXPECT_TRUE(runner_->started.empty());
}

}  // namespace
}  // namespace solti::reconciler
