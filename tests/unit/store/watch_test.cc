#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/unit/store/store_fixture.h"

namespace solti::store {
namespace {

using testing::StoreFixture;
using Clock = std::chrono::steady_clock;

class WatchTest : public StoreFixture {
 protected:
  void SetUp() override { open(); }

  // Reads until `count` events arrived (or 10 s passed, which fails).
  static std::vector<Event> read(Watcher& w, size_t count) {
    std::vector<Event> got;
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (got.size() < count && Clock::now() < deadline) {
      auto events = w.next(deadline, 100);
      EXPECT_TRUE(events.ok()) << events.status().to_string();
      if (!events.ok()) break;
      for (auto& e : *events) got.push_back(std::move(e));
    }
    return got;
  }
  // What is available right now, without waiting.
  static Result<std::vector<Event>> poll(Watcher& w) { return w.next(Clock::now(), 1000); }

  std::unique_ptr<Watcher> watch(std::string prefix, uint64_t after) {
    auto w = store_->watch(std::move(prefix), after);
    EXPECT_TRUE(w.ok()) << w.status().to_string();
    return w.ok() ? std::move(w).value() : nullptr;
  }
};

TEST_F(WatchTest, DeliversEveryEventOnceInRevisionOrder) {
  auto w = watch("/test/", 0);
  constexpr int kThreads = 4, kPerThread = 50;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string k = key("t" + std::to_string(t) + "-" + std::to_string(i % 10));
        if (!store_->create(k, object("x", i)).ok()) {
          ASSERT_TRUE(store_->update(k, object("x", i), {}).ok());
        }
      }
    });
  }
  auto events = read(*w, kThreads * kPerThread);
  for (auto& t : writers) t.join();
  ASSERT_EQ(events.size(), size_t{kThreads * kPerThread});
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].revision, i + 1);
    EXPECT_EQ(Json::parse(*events[i].value)["metadata"]["resourceVersion"], std::to_string(i + 1));
  }
  EXPECT_TRUE(poll(*w)->empty());  // nothing twice
}

TEST_F(WatchTest, EventsCarryTypeValueAndPreviousValue) {
  auto w = watch("/test/", 0);
  ASSERT_TRUE(store_->create(key("a"), object("a", 1)).ok());
  ASSERT_TRUE(store_->update(key("a"), object("a", 2), {}).ok());
  ASSERT_TRUE(store_->remove(key("a"), {}).ok());
  auto events = read(*w, 3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, EventType::kAdded);
  EXPECT_EQ(events[0].prev_value, nullptr);
  EXPECT_EQ(events[1].type, EventType::kModified);
  EXPECT_EQ(Json::parse(*events[1].value)["value"], 2);
  EXPECT_EQ(Json::parse(*events[1].prev_value)["value"], 1);
  EXPECT_EQ(events[2].type, EventType::kDeleted);
  EXPECT_EQ(Json::parse(*events[2].value)["metadata"]["resourceVersion"], "3");
  EXPECT_EQ(Json::parse(*events[2].prev_value)["value"], 2);
}

TEST_F(WatchTest, FiltersByPrefix) {
  auto w = watch("/test/things/ns1/", 0);
  ASSERT_TRUE(store_->create(key("a", "ns1"), object("a")).ok());
  ASSERT_TRUE(store_->create(key("b", "ns2"), object("b")).ok());
  ASSERT_TRUE(store_->create(key("c", "ns1"), object("c")).ok());
  auto events = read(*w, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].key, key("a", "ns1"));
  EXPECT_EQ(events[1].key, key("c", "ns1"));
  EXPECT_EQ(events[1].revision, 3u);
}

TEST_F(WatchTest, ResumesFromARevisionAfterReopeningTheStore) {
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(store_->create(key("k" + std::to_string(i)), object("k", i)).ok());
  open();  // a new process: the watch cache is empty, the history is on disk
  auto w = watch("/test/", 5);
  auto old_events = read(*w, 5);
  ASSERT_EQ(old_events.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(old_events[i].revision, 6 + i);
  ASSERT_TRUE(store_->create(key("new"), object("new")).ok());
  auto live = read(*w, 1);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].revision, 11u);
  EXPECT_TRUE(poll(*w)->empty());
}

TEST_F(WatchTest, CatchesUpFromDiskWhileWritesContinue) {
  options_.watch_cache_events = 8;  // most of the history is only on disk
  open();
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(store_->create(key("k" + std::to_string(i)), object("k")).ok());
  auto w = watch("/test/", 1);
  std::thread writer([&] {
    for (int i = 0; i < 100; ++i)
      ASSERT_TRUE(store_->update(key("k" + std::to_string(i)), object("k", 1), {}).ok());
  });
  std::vector<Event> events;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (events.size() < 199 && Clock::now() < deadline) {
    auto batch = w->next(deadline, 7);
    if (!batch.ok()) {
      // A reader slower than 8 events may legitimately be told to re-watch.
      ASSERT_EQ(batch.status().code(), StatusCode::kExpired);
      w = watch("/test/", events.empty() ? 1 : events.back().revision);
      continue;
    }
    for (auto& e : *batch) events.push_back(std::move(e));
  }
  writer.join();
  ASSERT_EQ(events.size(), 199u);
  for (size_t i = 0; i < events.size(); ++i) ASSERT_EQ(events[i].revision, i + 2);
}

TEST_F(WatchTest, StartBelowCompactionIsExpired) {
  options_.min_retention_revisions = 2;
  open();
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(store_->create(key("k" + std::to_string(i)), object("k")).ok());
  clock_.advance(std::chrono::minutes(6));
  ASSERT_TRUE(store_->compact().ok());
  ASSERT_EQ(store_->compacted_revision(), 8u);
  auto expired = store_->watch("/test/", 5);
  EXPECT_EQ(expired.status().code(), StatusCode::kExpired);
  open();  // the cache is empty after a restart: answered from disk
  EXPECT_EQ(store_->watch("/test/", 7).status().code(), StatusCode::kExpired);
  auto w = watch("/test/", 8);
  auto events = read(*w, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].revision, 9u);
}

TEST_F(WatchTest, ASlowWatcherIsEndedWithoutStallingWritersOrOthers) {
  options_.watch_cache_events = 16;
  open();
  auto slow = watch("/test/", 0);
  auto fast = watch("/test/", 0);
  std::vector<Event> fast_events;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(
        store_->create(key("k" + std::to_string(i)), object("k")).ok());  // never blocks on `slow`
    auto got = poll(*fast);
    ASSERT_TRUE(got.ok());
    for (auto& e : *got) fast_events.push_back(std::move(e));
  }
  ASSERT_EQ(fast_events.size(), 100u);
  EXPECT_EQ(fast_events.back().revision, 100u);
  auto ended = slow->next(Clock::now(), 10);
  EXPECT_EQ(ended.status().code(), StatusCode::kExpired);
  EXPECT_NE(ended.status().message().find("fell too far behind"), std::string::npos);
  // Re-watching from its last revision resumes from the on-disk history.
  auto again = watch("/test/", 1);
  EXPECT_EQ(read(*again, 99).size(), 99u);
}

TEST_F(WatchTest, CancelWakesABlockedReader) {
  auto w = watch("/test/", 0);
  std::thread reader([&] {
    auto r = w->next(Clock::now() + std::chrono::seconds(30), 10);
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  });
  while (store_->stats().watchers != 1) std::this_thread::yield();
  w->cancel();
  reader.join();
}

TEST_F(WatchTest, TimesOutWithNoEvents) {
  auto w = watch("/test/", 0);
  auto r = w->next(Clock::now() + std::chrono::milliseconds(1), 10);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(store_->stats().watchers, 1u);
  w.reset();
  EXPECT_EQ(store_->stats().watchers, 0u);
}

TEST_F(WatchTest, PublishListenersHearEachCommitUntilUnsubscribed) {
  std::atomic<int> calls{0};
  auto w = watch("/test/", 0);
  auto subscription = store_->on_publish([&] { ++calls; });
  ASSERT_TRUE(store_->create(key("a"), object("x", 1)).ok());
  // The listener ran before the write was acknowledged, with the event
  // already where a polling watcher finds it.
  EXPECT_GE(calls.load(), 1);
  auto events = poll(*w);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 1u);

  subscription.reset();
  const int before = calls.load();
  ASSERT_TRUE(store_->create(key("b"), object("x", 2)).ok());
  EXPECT_EQ(calls.load(), before);
}

TEST_F(WatchTest, PublishListenersHearTheStoreClose) {
  std::atomic<int> calls{0};
  auto w = watch("/test/", 0);
  auto subscription = store_->on_publish([&] { ++calls; });
  store_.reset();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(poll(*w).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace solti::store
