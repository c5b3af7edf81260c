#include "reconciler/work_queue.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace solti::reconciler
