// Housekeeping as embedded Tasks: the sweep and log clean-up functions
// against a real registry, and SystemTasks running them periodically on the
// loop with a FakeClock.
#include "reconciler/housekeeping.h"

#include <gtest/gtest.h>

#include <fstream>

#include "apiserver/resources.h"
#include "model/json_codec.h"
#include "model/validation.h"
#include "reconciler/system_tasks.h"
#include "tests/unit/store/store_fixture.h"

namespace solti::reconciler {
namespace {

using namespace std::chrono_literals;

class HousekeepingTest : public store::testing::StoreFixture {
 protected:
  void SetUp() override {
    options_.sync_writes = false;
    open();
    strategy_ = api::make_task_run_strategy();
    runs_ = std::make_unique<api::Registry>(*store_, *strategy_, clock_);
  }

  void create_run(const std::string& name, TaskPhase phase, std::optional<Timestamp> completed) {
    TaskRun run;
    run.metadata.name = name;
    run.spec.task_name = "t";
    run.spec.generation = 1;
    run.spec.attempt = 1;
    run.status.phase = phase;
    run.status.start_time = clock_.now() - 48h;
    run.status.completion_time = completed;
    auto created = runs_->create("default", encode_json(run), {});
    ASSERT_TRUE(created.ok()) << created.status().to_string();
  }

  bool exists(const std::string& name) { return runs_->get("default", name).ok(); }

  // Runs the loop until `done` holds (the embedded functions run on threads).
  void run_loop_until(const std::function<bool()>& done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      loop_.restart();
      // With nothing queued the loop returns at once; the worker thread
      // may still be about to post.
      if (loop_.run_for(10ms) == 0) std::this_thread::sleep_for(1ms);
    }
    ASSERT_TRUE(done());
  }

  std::unique_ptr<api::Strategy> strategy_;
  std::unique_ptr<api::Registry> runs_;
  boost::asio::io_context loop_;
  runners::StopFlag keep_going_{false};
};

TEST_F(HousekeepingTest, SweepRemovesOnlyFinishedRunsOlderThanTheTtl) {
  create_run("old-1-1", TaskPhase::kSucceeded, clock_.now() - 25h);
  create_run("recent-1-1", TaskPhase::kFailed, clock_.now() - 1h);
  create_run("running-1-1", TaskPhase::kRunning, std::nullopt);
  auto swept = sweep_task_runs(*runs_, clock_, 24h, keep_going_);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, "removed 1 TaskRuns finished more than 24h ago");
  EXPECT_FALSE(exists("old-1-1"));
  EXPECT_TRUE(exists("recent-1-1"));
  EXPECT_TRUE(exists("running-1-1"));
}

TEST_F(HousekeepingTest, LogCleanupRemovesLogsWhoseRunIsGone) {
  const auto logs = std::filesystem::path(dir_) / "logs";
  std::filesystem::create_directories(logs / "default/t");
  std::filesystem::create_directories(logs / "default/gone");
  for (const char* f :
       {"default/t/1-1.log", "default/t/1-2.log", "default/t/notes.txt", "default/gone/3-1.log"})
    std::ofstream(logs / f) << "x\n";
  create_run("t-1-1", TaskPhase::kSucceeded, clock_.now());
  auto cleaned = clean_up_logs(*runs_, logs, keep_going_);
  ASSERT_TRUE(cleaned.ok());
  EXPECT_EQ(*cleaned, "removed 2 logs of TaskRuns that are gone");
  EXPECT_TRUE(std::filesystem::exists(logs / "default/t/1-1.log"));
  EXPECT_FALSE(std::filesystem::exists(logs / "default/t/1-2.log"));
  EXPECT_TRUE(std::filesystem::exists(logs / "default/t/notes.txt"));
  EXPECT_FALSE(std::filesystem::exists(logs / "default/gone")) << "empty task dirs go too";
}

TEST_F(HousekeepingTest, SystemTasksRunTheHousekeepingEveryInterval) {
  runners::Router router;
  auto embedded = std::make_unique<runners::EmbeddedRunner>(loop_);
  register_housekeeping(*embedded, *runs_, clock_, 24h, std::filesystem::path(dir_) / "logs");
  router.add(std::move(embedded));
  DefaultRandomSource random(7);
  SystemTasks system(clock_, loop_, router, random);
  for (Task& task : housekeeping_tasks(1min)) {
    EXPECT_TRUE(validate_task(task, Origin::kInProcess).empty()) << task.metadata.name;
    system.add(std::move(task));
  }
  create_run("old-1-1", TaskPhase::kSucceeded, clock_.now() - 25h);
  system.start();
  run_loop_until(
      [&] { return system.get("taskrun-ttl-sweep")->status.phase == TaskPhase::kSucceeded; });
  EXPECT_FALSE(exists("old-1-1"));
  Task sweep = *system.get("taskrun-ttl-sweep");
  EXPECT_EQ(sweep.status.attempt, 1);
  EXPECT_EQ(sweep.status.runner, "embedded");
  EXPECT_EQ(*sweep.status.next_attempt_time - clock_.now(), 1min);

  clock_.advance(59s);
  system.run_due();
  EXPECT_EQ(system.get("taskrun-ttl-sweep")->status.attempt, 1);
  create_run("older-1-1", TaskPhase::kSucceeded, clock_.now() - 30h);
  clock_.advance(1s);
  system.run_due();
  run_loop_until([&] {
    Task t = *system.get("taskrun-ttl-sweep");
    return t.status.attempt == 2 && t.status.phase == TaskPhase::kSucceeded;
  });
  EXPECT_FALSE(exists("older-1-1"));
  EXPECT_EQ(system.get("log-cleanup")->status.attempt, 2);
  system.stop();
  loop_.restart();
  loop_.poll();
}

TEST_F(HousekeepingTest, EmbeddedFunctionsStopAtTheirTimeout) {
  runners::EmbeddedRunner runner(loop_);
  runner.register_function("wait-for-stop",
                           [](const runners::StopFlag& stop) -> Result<std::string> {
                             while (!stop) std::this_thread::sleep_for(1ms);
                             return std::string("stopped");
                           });
  runners::AttemptRequest request;
  request.spec.timeout = Duration::from(50ms);
  request.spec.embedded = EmbeddedSpec{"wait-for-stop"};
  ASSERT_TRUE(runner.supports(request.spec));
  std::optional<runners::AttemptResult> result;
  runner.start(request, [&](runners::AttemptResult r) { result = r; });
  run_loop_until([&] { return result.has_value(); });
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, runners::Outcome::kTimedOut);
  TaskSpec unknown;
  unknown.embedded = EmbeddedSpec{"nope"};
  EXPECT_FALSE(runner.supports(unknown));
}

}  // namespace
}  // namespace solti::reconciler
