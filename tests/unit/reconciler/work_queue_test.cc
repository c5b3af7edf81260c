#include "reconciler/work_queue.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace solti::reconciler {
namespace {

using std::chrono::milliseconds;

class WorkQueueTest : public ::testing::Test {
 protected:
  FakeClock clock_;
};

TEST_F(WorkQueueTest, DeduplicatesQueuedKeys) {
  WorkQueue q(clock_);
  q.add("a");
  q.add("a");
  q.add("b");
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.take(), "a");
  EXPECT_EQ(q.take(), "b");
  EXPECT_EQ(q.take(), std::nullopt);
}

TEST_F(WorkQueueTest, AKeyAddedWhileInFlightIsHandledAgainAfterDone) {
  WorkQueue q(clock_);
  q.add("a");
  ASSERT_EQ(q.take(), "a");
  q.add("a");
  q.add("a");
  EXPECT_EQ(q.take(), std::nullopt);  // never handled twice at once
  q.done("a");
  EXPECT_EQ(q.take(), "a");
  q.done("a");
  EXPECT_EQ(q.take(), std::nullopt);  // and only once more
}

TEST_F(WorkQueueTest, HighPriorityKeysGoFirstInTheOrderAdded) {
  WorkQueue q(clock_);
  q.add("new-1");
  q.add("done-1", WorkQueue::Priority::kHigh);
  q.add("new-2");
  q.add("done-2", WorkQueue::Priority::kHigh);
  EXPECT_EQ(q.take(), "done-1");
  EXPECT_EQ(q.take(), "done-2");
  EXPECT_EQ(q.take(), "new-1");
  EXPECT_EQ(q.take(), "new-2");
}

TEST_F(WorkQueueTest, AQueuedKeyAddedWithHighPriorityMovesAheadOnce) {
  WorkQueue q(clock_);
  q.add("a");
  q.add("b");
  q.add("b", WorkQueue::Priority::kHigh);
  q.add("b");  // a lower priority does not demote it
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.take(), "b");
  EXPECT_EQ(q.take(), "a");
  EXPECT_EQ(q.take(), std::nullopt);
}

TEST_F(WorkQueueTest, APriorityAskedWhileInFlightHoldsForTheRequeue) {
  WorkQueue q(clock_);
  q.add("a");
  ASSERT_EQ(q.take(), "a");
  q.add("b");
  q.add("a", WorkQueue::Priority::kHigh);
  q.done("a");
  EXPECT_EQ(q.take(), "a");
  q.done("a");
  EXPECT_EQ(q.take(), "b");
  // Taken, a key starts again from the normal priority.
  q.done("b");
  q.add("c");
  q.add("b");
  EXPECT_EQ(q.take(), "c");
}

TEST_F(WorkQueueTest, DelayedKeysBecomeReadyAtTheirTime) {
  WorkQueue q(clock_);
  q.add_after("a", milliseconds(100));
  EXPECT_EQ(q.take(), std::nullopt);
  EXPECT_EQ(q.next_deadline(), clock_.steady_now() + milliseconds(100));
  clock_.advance(milliseconds(99));
  EXPECT_EQ(q.take(), std::nullopt);
  clock_.advance(milliseconds(1));
  EXPECT_EQ(q.take(), "a");
  EXPECT_EQ(q.next_deadline(), std::nullopt);
}

TEST_F(WorkQueueTest, TheEarliestWaitWins) {
  WorkQueue q(clock_);
  q.add_after("a", milliseconds(100));
  q.add_after("a", milliseconds(50));
  q.add_after("a", milliseconds(200));
  EXPECT_EQ(q.size(), 1u);
  clock_.advance(milliseconds(50));
  EXPECT_EQ(q.take(), "a");
  q.done("a");
  clock_.advance(milliseconds(500));
  EXPECT_EQ(q.take(), std::nullopt);  // the later waits were merged, not kept
}

TEST_F(WorkQueueTest, PerKeyBackoffDoublesUpToTheCapAndForgetResetsIt) {
  WorkQueue q(clock_, {milliseconds(5), milliseconds(40), 1e9, 1000000});
  const std::vector<int64_t> expected = {5, 10, 20, 40, 40};
  for (int64_t delay : expected) {
    q.add_rate_limited("a");
    EXPECT_EQ(q.next_deadline(), clock_.steady_now() + milliseconds(delay));
    clock_.advance(milliseconds(delay - 1));
    EXPECT_EQ(q.take(), std::nullopt);
    clock_.advance(milliseconds(1));
    ASSERT_EQ(q.take(), "a");
    q.done("a");
  }
  EXPECT_EQ(q.failures("a"), 5);
  q.forget("a");
  EXPECT_EQ(q.failures("a"), 0);
  q.add_rate_limited("a");
  EXPECT_EQ(q.next_deadline(), clock_.steady_now() + milliseconds(5));
}

TEST_F(WorkQueueTest, TheGlobalBucketSpacesBurstsOut) {
  WorkQueue q(clock_, {milliseconds(1), milliseconds(1000), 10, 2});
  for (auto key : {"k1", "k2", "k3", "k4"}) q.add_rate_limited(key);
  // Two tokens are there; the next ones come every 100 ms.
  clock_.advance(milliseconds(1));
  EXPECT_EQ(q.take(), "k1");
  EXPECT_EQ(q.take(), "k2");
  EXPECT_EQ(q.take(), std::nullopt);
  clock_.advance(milliseconds(99));
  EXPECT_EQ(q.take(), "k3");
  EXPECT_EQ(q.take(), std::nullopt);
  clock_.advance(milliseconds(100));
  EXPECT_EQ(q.take(), "k4");
}

TEST_F(WorkQueueTest, WaitingWorkersShareKeysAndNeverHoldOneTwice) {
  WorkQueue q(clock_);
  std::mutex mu;
  std::set<std::string> held;
  std::vector<std::string> handled;
  bool overlap = false;
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&] {
      while (auto key = q.wait_and_take()) {
        {
          std::lock_guard lock(mu);
          overlap |= !held.insert(*key).second;
          handled.push_back(*key);
        }
        std::lock_guard lock(mu);
        held.erase(*key);
        q.done(*key);
      }
    });
  }
  for (int round = 0; round < 200; ++round) q.add("k" + std::to_string(round % 7));
  // Every key reaches a worker: the last add of each is handled after it.
  for (bool all_seen = false; !all_seen; std::this_thread::yield()) {
    std::lock_guard lock(mu);
    all_seen = std::set<std::string>(handled.begin(), handled.end()).size() == 7 && q.size() == 0;
  }
  q.shut_down();
  for (auto& w : workers) w.join();  // shut_down wakes them all
  EXPECT_FALSE(overlap);
  EXPECT_GE(handled.size(), 7u);
  q.add("late");
  EXPECT_EQ(q.wait_and_take(), std::nullopt);  // shut down for good, even with keys ready
}

}  // namespace
}  // namespace solti::reconciler
