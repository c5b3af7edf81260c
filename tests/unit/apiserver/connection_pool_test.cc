#include "apiserver/connection_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

namespace solti::api {
namespace {

using namespace std::chrono_literals;

// Waits (bounded) for `done`; the pool's threads are real, so the test
// polls rather than asserting anything about time.
template <typename Predicate>
bool eventually(Predicate done) {
  for (int i = 0; i < 2000 && !done(); ++i) std::this_thread::sleep_for(5ms);
  return done();
}

TEST(ConnectionPoolTest, StartsThreadsOnlyWhenNoneIsIdleAndReusesTheLatestIdle) {
  ConnectionPool pool(8, 1h);
  EXPECT_EQ(pool.threads(), 0u);
  std::set<std::thread::id> ran_on;
  for (int i = 0; i < 20; ++i) {
    std::promise<std::thread::id> id;
    auto done = id.get_future();
    pool.enqueue([&id] { id.set_value(std::this_thread::get_id()); });
    ran_on.insert(done.get());
    // The thread is idle again before the next job (it is only then that
    // enqueue() can hand it over).
    ASSERT_TRUE(eventually([&] { return pool.idle_threads() == 1; }));
  }
  EXPECT_EQ(ran_on.size(), 1u);
  EXPECT_EQ(pool.threads(), 1u);
}

// Of two idle threads, the one idle most recently gets the next job: the
// same few threads stay warm, the rest age out.
TEST(ConnectionPoolTest, GivesAJobToTheMostRecentlyIdleThread) {
  ConnectionPool pool(8, 1h);
  std::promise<void> release_first, release_second;
  std::promise<std::thread::id> first_id, second_id;
  pool.enqueue([&, released = release_first.get_future().share()] {
    first_id.set_value(std::this_thread::get_id());
    released.wait();
  });
  pool.enqueue([&, released = release_second.get_future().share()] {
    second_id.set_value(std::this_thread::get_id());
    released.wait();
  });
  const auto first = first_id.get_future().get();
  const auto second = second_id.get_future().get();
  ASSERT_NE(first, second);
  release_first.set_value();
  ASSERT_TRUE(eventually([&] { return pool.idle_threads() == 1; }));
  release_second.set_value();
  ASSERT_TRUE(eventually([&] { return pool.idle_threads() == 2; }));

  std::promise<std::thread::id> next_id;
  pool.enqueue([&] { next_id.set_value(std::this_thread::get_id()); });
  EXPECT_EQ(next_id.get_future().get(), second);
}

TEST(ConnectionPoolTest, NeverExceedsItsThreadsAndQueuesTheRest) {
  constexpr size_t kMax = 4, kJobs = 12;
  ConnectionPool pool(kMax, 1h);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<size_t> running{0}, most{0}, finished{0};
  for (size_t i = 0; i < kJobs; ++i) {
    pool.enqueue([&, released] {
      const size_t now = ++running;
      size_t seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      released.wait();
      --running;
      ++finished;
    });
  }
  ASSERT_TRUE(eventually([&] { return running.load() == kMax; }));
  EXPECT_EQ(pool.threads(), kMax);
  release.set_value();
  ASSERT_TRUE(eventually([&] { return finished.load() == kJobs; }));
  EXPECT_EQ(most.load(), kMax);
  EXPECT_EQ(pool.threads(), kMax);
}

TEST(ConnectionPoolTest, IdleThreadsExit) {
  ConnectionPool pool(4, 20ms);
  std::atomic<int> ran{0};
  for (int i = 0; i < 4; ++i) pool.enqueue([&] { ++ran; });
  ASSERT_TRUE(eventually([&] { return ran.load() == 4; }));
  ASSERT_TRUE(eventually([&] { return pool.threads() == 0; }));
  pool.enqueue([&] { ++ran; });  // a new thread serves it
  EXPECT_TRUE(eventually([&] { return ran.load() == 5; }));
}

TEST(ConnectionPoolTest, ShutdownRunsQueuedJobsWaitsForThemAndDropsLaterOnes) {
  std::atomic<int> ran{0};
  {
    ConnectionPool pool(2, 1h);
    for (int i = 0; i < 10; ++i) {
      pool.enqueue([&] {
        std::this_thread::sleep_for(2ms);
        ++ran;
      });
    }
    pool.shutdown();
    EXPECT_EQ(ran.load(), 10);
    EXPECT_EQ(pool.threads(), 0u);
    pool.enqueue([&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 10);
}

}  // namespace
}  // namespace solti::api
