// Tasks run for real: a real soltid on 127.0.0.1 with its embedded store,
// the reconciler and the subprocess runner, real processes. Scripts write
// their pids to files so the tests can check that nothing outlives its Task.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "tests/integration/task_test.h"

namespace solti {
namespace {

using namespace std::chrono_literals;
using testing::alive;
using testing::Clock;
using testing::kRuns;
using testing::kTasks;
using testing::millis_between;
using testing::Reply;
using testing::status_of;

int thread_count(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

// The thread count once it has stopped changing (the HTTP server's pool
// starts its threads in the background).
int settled_thread_count(pid_t pid) {
  int last = -1;
  for (int same = 0; same < 3;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const int now = thread_count(pid);
    same = now == last ? same + 1 : 0;
    last = now;
  }
  return last;
}

using ReconcilerTest = testing::TaskTest;

TEST_F(ReconcilerTest, EchoSucceedsAndItsLogIsServed) {
  Json task = {
      {"apiVersion", "solti.io/v1"},
      {"kind", "Task"},
      {"metadata", {{"name", "hello"}}},
      {"spec", {{"timeout", "10s"}, {"subprocess", {{"command", "echo"}, {"args", {"hi"}}}}}}};
  Reply created = call("POST", kTasks, task.dump());
  ASSERT_EQ(created.status, 201);
  // The runner's finalizer comes with the create, not with a write of the
  // reconciler's.
  EXPECT_EQ(created.body["metadata"]["finalizers"], Json::array({"solti.io/runner"}));
  Json t = wait_phase("hello", "Succeeded");
  EXPECT_EQ(t["status"]["exitCode"], 0);
  EXPECT_EQ(t["status"]["attempt"], 1);
  EXPECT_EQ(t["status"]["observedGeneration"], 1);
  Reply log = call("GET", std::string(kTasks) + "/hello/log");
  EXPECT_EQ(log.status, 200);
  EXPECT_EQ(log.text, "hi\n");
  auto r = runs("hello");
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["metadata"]["name"], "hello-1-1");
  EXPECT_EQ(r[0]["status"]["phase"], "Succeeded");
}

TEST_F(ReconcilerTest, ExitThreeWithNeverIsExhausted) {
  create_script("three", "exit 3");
  Json t = wait_phase("three", "Exhausted");
  EXPECT_EQ(t["status"]["exitCode"], 3);
  EXPECT_EQ(runs("three").size(), 1u);
}

TEST_F(ReconcilerTest, RetriesStopAtMaxRetriesWithTheBackoffBetween) {
  create_script("retry", "echo try; exit 1",
                {{"restartPolicy", "OnFailure"},
                 {"maxRetries", 2},
                 {"backoff", {{"first", "300ms"}, {"factor", 2}, {"jitter", "None"}}}});
  Json t = wait_phase("retry", "Exhausted");
  EXPECT_EQ(t["status"]["attempt"], 3);
  auto r = runs("retry");
  ASSERT_EQ(r.size(), 3u);
  for (const auto& run : r) EXPECT_EQ(run["status"]["phase"], "Failed");
  // base(k) = 300ms * 2^k with no jitter: 300 ms, then 600 ms (loosely above).
  const int64_t gap1 =
      millis_between(r[0]["status"]["completionTime"], r[1]["status"]["startTime"]);
  const int64_t gap2 =
      millis_between(r[1]["status"]["completionTime"], r[2]["status"]["startTime"]);
  EXPECT_GE(gap1, 300);
  EXPECT_LT(gap1, 300 + 3000);
  EXPECT_GE(gap2, 600);
  EXPECT_LT(gap2, 600 + 3000);
}

TEST_F(ReconcilerTest, FailsTwiceThenSucceedsOnTheThirdAttempt) {
  create_script("flaky",
                "n=$(cat count 2>/dev/null || echo 0); n=$((n + 1)); echo $n > count; "
                "[ $n -ge 3 ]",
                {{"restartPolicy", "OnFailure"}, {"backoff", {{"first", "100ms"}}}});
  Json t = wait_phase("flaky", "Succeeded");
  EXPECT_EQ(t["status"]["attempt"], 3);
  EXPECT_EQ(status_of(t).value("consecutiveFailures", 0), 0);  // omitted when zero
}

TEST_F(ReconcilerTest, TimeoutStopsTheProcess) {
  create_script("slow", "echo $$ > pid; exec sleep 100", {{"timeout", "1s"}});
  const pid_t pid = read_pid("pid");
  Json t = wait_phase("slow", "Timeout");
  EXPECT_EQ(reason(t), "Timeout");
  EXPECT_TRUE(gone_within(pid, 1s));
}

TEST_F(ReconcilerTest, AScriptTrappingSigtermIsKilledAfterTheGracePeriod) {
  create_script("stubborn", "trap '' TERM; echo $$ > pid; while :; do sleep 0.1; done",
                {{"timeout", "1s"}, {"terminationGracePeriod", "1s"}});
  const pid_t pid = read_pid("pid");
  Json t = wait_phase("stubborn", "Timeout");
  EXPECT_NE(t["status"]["message"].get<std::string>().find("signal 9"), std::string::npos)
      << t["status"]["message"];
  EXPECT_GE(millis_between(t["status"]["startTime"], t["status"]["completionTime"]), 2000);
  EXPECT_TRUE(gone_within(pid, 1s));
}

TEST_F(ReconcilerTest, ABackgroundGrandchildDiesWithItsTask) {
  create_script("parent", "sleep 1000 & echo $! > grandchild; exit 0");
  const pid_t grandchild = read_pid("grandchild");
  wait_phase("parent", "Succeeded");
  EXPECT_TRUE(gone_within(grandchild, 2s));
}

TEST_F(ReconcilerTest, AdmissionInOneSlotDropQueueReplaceAndQueueFull) {
  create_script("a-first", "echo $$ > a; exec sleep 100", {{"slot", "lane"}});
  const pid_t a = read_pid("a");
  wait_phase("a-first", "Running");
  create_script("b-drop", "echo b", {{"slot", "lane"}, {"admission", "DropIfRunning"}});
  create_script("c-queue", "echo c", {{"slot", "lane"}, {"admission", "Queue"}});
  Json b = wait_phase("b-drop", "Canceled");
  EXPECT_EQ(reason(b), "SlotBusy");
  wait_for(
      "c-queue", [](const Json& t) { return reason(t) == "Queued"; }, "Queued");

  create_script("d-replace", "sleep 0.5; echo d", {{"slot", "lane"}, {"admission", "Replace"}});
  Json first = wait_phase("a-first", "Canceled");
  EXPECT_EQ(reason(first), "SupersededByReplace");
  EXPECT_TRUE(gone_within(a, 1s));
  wait_phase("d-replace", "Succeeded");
  wait_phase("c-queue", "Succeeded");
  EXPECT_EQ(phase(get("b-drop")), "Canceled");

  // A queue holds at most 100 Tasks: the 101st waiter fails.
  create_script("holder", "exec sleep 100", {{"slot", "full"}});
  wait_phase("holder", "Running");
  for (int i = 0; i < 101; ++i) {
    create_script("w-" + std::to_string(1000 + i), "true",
                  {{"slot", "full"}, {"admission", "Queue"}});
  }
  Json last = wait_phase("w-1100", "Failed");
  EXPECT_EQ(reason(last), "QueueFull");
  EXPECT_EQ(reason(get("w-1099")), "Queued");
}

TEST_F(ReconcilerTest, SuspendCancelsAndStopsTheProcess) {
  create_script("paused", "echo $$ > pid; exec sleep 100");
  const pid_t pid = read_pid("pid");
  wait_phase("paused", "Running");
  patch_spec("paused", {{"suspend", true}});
  Json t = wait_phase("paused", "Canceled");
  EXPECT_EQ(reason(t), "Suspended");
  EXPECT_TRUE(gone_within(pid, 1s));
}

TEST_F(ReconcilerTest, ASpecChangeWhileRunningRestartsWithTheNewGeneration) {
  create_script("changing", "echo $$ > pid1; exec sleep 100");
  const pid_t old_pid = read_pid("pid1");
  wait_phase("changing", "Running");
  patch_spec("changing",
             {{"subprocess", {{"script", {{"body", "echo $$ > pid2; exec sleep 100"}}}}}});
  const pid_t new_pid = read_pid("pid2");
  EXPECT_FALSE(alive(old_pid)) << "the new generation started before the old one stopped";
  Json t = wait_for(
      "changing",
      [](const Json& t) {
        return phase(t) == "Running" && status_of(t).value("observedGeneration", 0) == 2;
      },
      "Running generation 2");
  EXPECT_EQ(t["status"]["attempt"], 1);
  auto r = runs("changing");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["metadata"]["name"], "changing-1-1");
  EXPECT_EQ(r[0]["status"]["phase"], "Canceled");
  EXPECT_EQ(r[0]["status"]["reason"], "SpecChanged");
  EXPECT_TRUE(alive(new_pid));
}

TEST_F(ReconcilerTest, DeletingARunningTaskRemovesProcessObjectAndRuns) {
  create_script("doomed", "echo $$ > pid; exec sleep 100", {{"terminationGracePeriod", "2s"}});
  const pid_t pid = read_pid("pid");
  wait_phase("doomed", "Running");
  Reply r = call("DELETE", std::string(kTasks) + "/doomed");
  EXPECT_EQ(r.status, 200) << r.text;
  const auto deadline = Clock::now() + 10s;
  while (call("GET", std::string(kTasks) + "/doomed").status != 404 && Clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_EQ(call("GET", std::string(kTasks) + "/doomed").status, 404);
  EXPECT_FALSE(alive(pid));
  EXPECT_TRUE(runs("doomed").empty());
  EXPECT_FALSE(std::filesystem::exists(soltid_.data_dir() + "/logs/default/doomed"));
}

TEST_F(ReconcilerTest, AlwaysRunsAgainAndAgain) {
  create_script("periodic", "echo tick", {{"restartPolicy", "Always"}, {"restartInterval", "1s"}});
  Json t = wait_for(
      "periodic", [](const Json& t) { return status_of(t).value("attempt", 0) >= 3; }, "attempt 3");
  EXPECT_EQ(status_of(t).value("consecutiveFailures", 0), 0);  // omitted when zero
  auto r = runs("periodic");
  ASSERT_GE(r.size(), 2u);
  EXPECT_GE(millis_between(r[0]["status"]["completionTime"], r[1]["status"]["startTime"]), 1000);
}

TEST_F(ReconcilerTest, AKilledSoltidsAttemptIsAgentRestartedAndItsProcessKilled) {
  create_script("interrupted", "echo $$ > pid; exec sleep 100",
                {{"restartPolicy", "OnFailure"}, {"backoff", {{"first", "100ms"}}}});
  const pid_t pid = read_pid("pid");
  wait_phase("interrupted", "Running", 1);
  soltid_.kill9();
  EXPECT_TRUE(alive(pid)) << "the attempt should survive soltid's death until the restart";
  std::filesystem::remove(work_ + "/pid");
  soltid_.start();
  client_ = soltid_.client();
  // Generous: the restart asks podman for leftovers first, slow under a parallel ctest.
  EXPECT_TRUE(gone_within(pid, 10s)) << "the orphan of the killed soltid still runs";
  wait_phase("interrupted", "Running", 2);
  // Attempt 2's process exists only after its TaskRun: the status says
  // Running first, so that a crash in between is still found.
  EXPECT_NE(read_pid("pid"), pid);
  auto r = runs("interrupted");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["status"]["phase"], "Failed");
  EXPECT_EQ(r[0]["status"]["reason"], "AgentRestarted");
  EXPECT_EQ(get("interrupted")["status"]["consecutiveFailures"], 1);
}

TEST_F(ReconcilerTest, AGracefulStopCancelsAttemptsAndTheNextStartAppliesThePolicy) {
  create_script("graceful", "echo $$ > pid; exec sleep 100", {{"terminationGracePeriod", "1s"}});
  const pid_t pid = read_pid("pid");
  wait_phase("graceful", "Running");
  soltid_.stop();  // SIGTERM; must exit 0
  EXPECT_FALSE(alive(pid));
  soltid_.start();
  client_ = soltid_.client();
  Json t = wait_phase("graceful", "Exhausted");  // restartPolicy Never
  EXPECT_EQ(reason(t), "AgentRestarted");
}

TEST_F(ReconcilerTest, TwoHundredSleepingProcessesNeedNoThreadEach) {
  // The HTTP server's runners start with its first connection: a fixed
  // number, counted in the baseline.
  ASSERT_EQ(call("GET", "/readyz").status, 200);
  const int idle_threads = settled_thread_count(soltid_.pid());
  constexpr int kTasksToRun = 200;
  for (int i = 0; i < kTasksToRun; ++i) {
    Json task = {
        {"apiVersion", "solti.io/v1"},
        {"kind", "Task"},
        {"metadata",
         {{"name", "sleeper-" + std::to_string(i)}, {"labels", {{"group", "sleepers"}}}}},
        {"spec", {{"timeout", "5m"}, {"subprocess", {{"command", "sleep"}, {"args", {"60"}}}}}}};
    ASSERT_EQ(call("POST", kTasks, task.dump()).status, 201);
  }
  const auto deadline = Clock::now() + 60s;
  size_t running = 0;
  while (Clock::now() < deadline) {
    Reply r = call("GET", std::string(kTasks) + "?fieldSelector=status.phase%3DRunning");
    running = r.body["items"].size();
    if (running == kTasksToRun) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(running, size_t(kTasksToRun));
  const int busy_threads = thread_count(soltid_.pid());
  EXPECT_LE(busy_threads, idle_threads + 8)
      << "idle " << idle_threads << " threads, " << busy_threads << " with 200 attempts";
  Reply removed = call("DELETE", std::string(kTasks) + "?labelSelector=group%3Dsleepers");
  EXPECT_EQ(removed.status, 200);
  const auto gone_deadline = Clock::now() + 60s;
  while (Clock::now() < gone_deadline && call("GET", kTasks).body["items"].size() > 0)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(call("GET", kTasks).body["items"].size(), 0u);
}

}  // namespace
}  // namespace solti
