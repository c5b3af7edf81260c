#include "store/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "store/continue_token.h"
#include "store/record.h"
#include "tests/unit/store/store_fixture.h"

namespace solti::store {
namespace {

using testing::StoreFixture;

class StoreTest : public StoreFixture {
 protected:
  void SetUp() override { open(); }
};

TEST_F(StoreTest, CreateStampsMetadataAndTakesTheNextRevision) {
  EXPECT_EQ(store_->revision(), 0u);
  auto a = store_->create(key("a"), object("a", 1));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_EQ(a->mod_revision, 1u);
  EXPECT_EQ(a->create_revision, 1u);
  Json j = parse(*a);
  EXPECT_EQ(j["metadata"]["resourceVersion"], "1");
  EXPECT_EQ(j["metadata"]["uid"], a->uid);
  EXPECT_EQ(a->uid.size(), 36u);
  EXPECT_EQ(a->uid[14], '4');
  EXPECT_EQ(j["metadata"]["creationTimestamp"], format_rfc3339(clock_.now()));
  EXPECT_EQ(j["value"], 1);

  auto b = store_->create(key("b"), object("b"));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->mod_revision, 2u);
  EXPECT_NE(b->uid, a->uid);
  EXPECT_EQ(store_->revision(), 2u);

  auto got = store_->get(key("a"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got->value, *a->value);
}

TEST_F(StoreTest, CreateOfAnExistingKeyIsAlreadyExistsAndWritesNothing) {
  ASSERT_TRUE(store_->create(key("a"), object("a")).ok());
  auto again = store_->create(key("a"), object("a", 2));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->revision(), 1u);
  EXPECT_EQ(parse(*store_->get(key("a")))["value"], 0);
}

// What create_async's callbacks saw, in the order they were called.
struct AsyncOutcomes {
  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::pair<std::string, Result<StoredObject>>> calls;
  std::thread::id last_thread;

  std::function<void(Result<StoredObject>)> recorder(std::string name) {
    return [this, name](Result<StoredObject> outcome) {
      std::lock_guard lock(mu);
      calls.emplace_back(name, std::move(outcome));
      last_thread = std::this_thread::get_id();
      changed.notify_all();
    };
  }
  bool wait_for(size_t count) {
    std::unique_lock lock(mu);
    return changed.wait_for(lock, std::chrono::seconds(10), [&] { return calls.size() >= count; });
  }
};

TEST_F(StoreTest, AsyncCreatesAnswerOnceDurableInWriteOrderFromTheCommitter) {
  // Publishing to watchers follows the fsync: the first callback must come
  // after its own batch's publish.
  std::atomic<size_t> publishes{0};
  std::vector<size_t> publishes_when_called;
  auto subscription = store_->on_publish([&] { ++publishes; });
  AsyncOutcomes outcomes;
  for (const char* name : {"a", "b", "c"}) {
    auto record = outcomes.recorder(name);
    store_->create_async(key(name), object(name), [&, record](Result<StoredObject> created) {
      publishes_when_called.push_back(publishes);
      record(std::move(created));
    });
  }
  ASSERT_TRUE(outcomes.wait_for(3));
  std::lock_guard lock(outcomes.mu);
  EXPECT_NE(outcomes.last_thread, std::this_thread::get_id());
  for (size_t i = 0; i < 3; ++i) {
    const auto& [name, created] = outcomes.calls[i];
    ASSERT_TRUE(created.ok()) << created.status().to_string();
    EXPECT_EQ(name, std::string(1, char('a' + i)));
    EXPECT_EQ(created->mod_revision, i + 1);
    EXPECT_EQ(created->key, key(name));
    EXPECT_GE(publishes_when_called[i], 1u) << "called before its write was published";
    Json stored = parse(*created);
    EXPECT_EQ(stored["metadata"]["resourceVersion"], std::to_string(i + 1));
    EXPECT_EQ(stored["metadata"]["uid"], created->uid);
    auto got = store_->get(key(name));
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got->value, *created->value);
  }
}

TEST_F(StoreTest, AnAsyncCreateRefusedUpFrontAnswersOnTheCallersThread) {
  ASSERT_TRUE(store_->create(key("a"), object("a")).ok());
  AsyncOutcomes outcomes;
  store_->create_async(key("a"), object("a", 2), outcomes.recorder("a"));
  store_->create_async(key("b"), Json::array(), outcomes.recorder("b"));
  std::lock_guard lock(outcomes.mu);
  ASSERT_EQ(outcomes.calls.size(), 2u);
  EXPECT_EQ(outcomes.calls[0].second.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(outcomes.calls[1].second.status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(outcomes.last_thread, std::this_thread::get_id());
  EXPECT_EQ(store_->revision(), 1u);
}

// The write the log refuses, those queued behind it and those refused up
// front for the failure are each answered once, with the failure.
TEST_F(StoreTest, AsyncCreatesTheLogRefusesAnswerOnceWithTheFailure) {
  ASSERT_EQ(testing::break_write_ahead_log(dir_), 1);
  AsyncOutcomes outcomes;
  constexpr size_t kCreates = 20;
  for (size_t i = 0; i < kCreates; ++i) {
    const std::string name = "t" + std::to_string(i);
    store_->create_async(key(name), object(name), outcomes.recorder(name));
  }
  ASSERT_TRUE(outcomes.wait_for(kCreates));
  store_.reset();  // a late second answer would come from the committer, now joined
  std::lock_guard lock(outcomes.mu);
  ASSERT_EQ(outcomes.calls.size(), kCreates);
  std::set<std::string> answered;
  for (const auto& [name, outcome] : outcomes.calls) {
    EXPECT_EQ(outcome.status().code(), StatusCode::kInternal) << name;
    EXPECT_TRUE(answered.insert(name).second) << name << " answered twice";
  }
}

TEST_F(StoreTest, RejectsValuesThatAreNotObjects) {
  EXPECT_EQ(store_->create(key("a"), Json::array()).status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(store_->create(key("a"), Json{{"metadata", 3}}).status().code(),
            StatusCode::kBadRequest);
  EXPECT_EQ(store_->create("", object("a")).status().code(), StatusCode::kBadRequest);
  EXPECT_EQ(store_->revision(), 0u);
}

TEST_F(StoreTest, UpdateKeepsUidAndCreationAndChecksPreconditions) {
  auto a = store_->create(key("a"), object("a"));
  ASSERT_TRUE(a.ok());
  clock_.advance(std::chrono::seconds(5));
  Json changed = object("a", 7);
  changed["metadata"]["uid"] = "forged";
  changed["metadata"]["creationTimestamp"] = "2000-01-01T00:00:00Z";
  auto updated = store_->update(key("a"), changed, Preconditions{1, a->uid});
  ASSERT_TRUE(updated.ok()) << updated.status().to_string();
  EXPECT_EQ(updated->mod_revision, 2u);
  EXPECT_EQ(updated->create_revision, 1u);
  Json j = parse(*updated);
  EXPECT_EQ(j["metadata"]["uid"], a->uid);
  EXPECT_EQ(j["metadata"]["creationTimestamp"], parse(*a)["metadata"]["creationTimestamp"]);
  EXPECT_EQ(j["metadata"]["resourceVersion"], "2");
  EXPECT_EQ(j["value"], 7);

  auto stale = store_->update(key("a"), object("a", 8), Preconditions{1, std::nullopt});
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);
  EXPECT_NE(stale.status().message().find("has been modified"), std::string::npos);
  auto wrong_uid = store_->update(key("a"), object("a", 8), Preconditions{std::nullopt, "other"});
  EXPECT_EQ(wrong_uid.status().code(), StatusCode::kConflict);
  EXPECT_EQ(store_->update(key("missing"), object("m"), {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->revision(), 2u);
  // Without preconditions an update is unconditional.
  EXPECT_TRUE(store_->update(key("a"), object("a", 9), {}).ok());
}

TEST_F(StoreTest, RemoveReturnsTheLastStateAtTheDeleteRevision) {
  auto a = store_->create(key("a"), object("a", 4));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(store_->remove(key("a"), Preconditions{99, std::nullopt}).status().code(),
            StatusCode::kConflict);
  auto removed = store_->remove(key("a"), Preconditions{1, a->uid});
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->mod_revision, 2u);
  EXPECT_EQ(parse(*removed)["metadata"]["resourceVersion"], "2");
  EXPECT_EQ(parse(*removed)["value"], 4);
  EXPECT_EQ(store_->get(key("a")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->remove(key("a"), {}).status().code(), StatusCode::kNotFound);
  // A new incarnation gets a new uid and create revision.
  auto again = store_->create(key("a"), object("a"));
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->uid, a->uid);
  EXPECT_EQ(again->create_revision, 3u);
}

TEST_F(StoreTest, ListsByPrefixInKeyOrderWithFilter) {
  for (auto name : {"c", "a", "b"}) ASSERT_TRUE(store_->create(key(name), object(name)).ok());
  ASSERT_TRUE(store_->create(key("z", "other"), object("z")).ok());
  ASSERT_TRUE(store_->create("/test/others/default/x", object("x")).ok());

  auto all = store_->list({"/test/things/", 0, "", nullptr});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->revision, 5u);
  EXPECT_TRUE(all->continue_token.empty());
  std::vector<std::string> keys;
  for (auto& o : all->items) keys.push_back(o.key);
  EXPECT_EQ(keys, (std::vector<std::string>{key("a"), key("b"), key("c"), key("z", "other")}));

  auto one_ns = store_->list({"/test/things/default/", 0, "", nullptr});
  EXPECT_EQ(one_ns->items.size(), 3u);
  auto filtered = store_->list(
      {"/test/things/", 0, "", [](const StoredObject& o) { return o.key.back() != 'b'; }});
  EXPECT_EQ(filtered->items.size(), 3u);
}

TEST_F(StoreTest, PagesReadOneSnapshotPerChain) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->create(key("k" + std::to_string(i)), object("k", i)).ok());
  }
  auto page1 = store_->list({"/test/things/", 2, "", nullptr});
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->items.size(), 2u);
  ASSERT_FALSE(page1->continue_token.empty());
  EXPECT_EQ(page1->revision, 5u);

  // Writes between pages are not seen by the chain.
  ASSERT_TRUE(store_->remove(key("k3"), {}).ok());
  ASSERT_TRUE(store_->update(key("k2"), object("k", 99), {}).ok());
  ASSERT_TRUE(store_->create(key("k5"), object("k", 5)).ok());

  auto page2 = store_->list({"/test/things/", 2, page1->continue_token, nullptr});
  ASSERT_TRUE(page2.ok()) << page2.status().to_string();
  EXPECT_EQ(page2->revision, 5u);
  ASSERT_EQ(page2->items.size(), 2u);
  EXPECT_EQ(page2->items[0].key, key("k2"));
  EXPECT_EQ(parse(page2->items[0])["value"], 2);
  EXPECT_EQ(page2->items[1].key, key("k3"));
  auto page3 = store_->list({"/test/things/", 2, page2->continue_token, nullptr});
  ASSERT_TRUE(page3.ok());
  ASSERT_EQ(page3->items.size(), 1u);
  EXPECT_EQ(page3->items[0].key, key("k4"));
  EXPECT_TRUE(page3->continue_token.empty());

  // A fresh list sees the new state.
  auto fresh = store_->list({"/test/things/", 0, "", nullptr});
  EXPECT_EQ(fresh->items.size(), 5u);
  EXPECT_EQ(fresh->revision, 8u);
}

TEST_F(StoreTest, LastPageHasNoTokenEvenWhenFilterHidesTheRest) {
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(store_->create(key("k" + std::to_string(i)), object("k", i)).ok());
  auto page = store_->list(
      {"/test/things/", 2, "", [](const StoredObject& o) { return o.key.back() <= '1'; }});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_TRUE(page->continue_token.empty());
}

TEST_F(StoreTest, ContinueTokensExpireAndMalformedOnesAreBadRequests) {
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(store_->create(key("k" + std::to_string(i)), object("k")).ok());
  auto page = store_->list({"/test/things/", 1, "", nullptr});
  ASSERT_FALSE(page->continue_token.empty());

  EXPECT_EQ(store_->list({"/test/things/", 1, "garbage!", nullptr}).status().code(),
            StatusCode::kBadRequest);
  EXPECT_EQ(store_->list({"/test/other/", 1, page->continue_token, nullptr}).status().code(),
            StatusCode::kBadRequest);
  ContinueToken forged = *decode_continue_token(page->continue_token);
  forged.snapshot_id = 12345;
  EXPECT_EQ(
      store_->list({"/test/things/", 1, encode_continue_token(forged), nullptr}).status().code(),
      StatusCode::kExpired);

  clock_.advance(options_.list_snapshot_ttl + std::chrono::seconds(1));
  auto expired = store_->list({"/test/things/", 1, page->continue_token, nullptr});
  EXPECT_EQ(expired.status().code(), StatusCode::kExpired);
}

TEST_F(StoreTest, ContinueTokensAtCompactedRevisionsExpire) {
  options_.min_retention_revisions = 2;
  open();
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(store_->create(key("k" + std::to_string(i)), object("k")).ok());
  auto page = store_->list({"/test/things/", 1, "", nullptr});
  ASSERT_EQ(page->revision, 3u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->update(key("k0"), object("k", i), {}).ok());
  clock_.advance(options_.min_retention_time + std::chrono::seconds(1));
  ASSERT_TRUE(store_->compact().ok());
  EXPECT_EQ(store_->compacted_revision(), 4u);  // 6 - 2
  EXPECT_EQ(store_->list({"/test/things/", 1, page->continue_token, nullptr}).status().code(),
            StatusCode::kExpired);
}

TEST_F(StoreTest, CompactionKeepsMinimumRevisionsAndTime) {
  options_.min_retention_revisions = 10;
  open();
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(store_->create(key("k" + std::to_string(i)), object("k")).ok());
    if (i == 14) clock_.advance(std::chrono::minutes(3));
  }
  // Nothing is older than 5 minutes yet.
  ASSERT_TRUE(store_->compact().ok());
  EXPECT_EQ(store_->compacted_revision(), 0u);
  // Revisions 1..15 are now 6 minutes old, 16..30 only 3.
  clock_.advance(std::chrono::minutes(3));
  ASSERT_TRUE(store_->compact().ok());
  EXPECT_EQ(store_->compacted_revision(), 15u);
  // Everything old: the revision bound (keep 10) decides.
  clock_.advance(std::chrono::minutes(10));
  ASSERT_TRUE(store_->compact().ok());
  EXPECT_EQ(store_->compacted_revision(), 20u);
  // Objects are untouched by compaction of the history.
  EXPECT_EQ(store_->list({"/test/things/", 0, "", nullptr})->items.size(), 30u);
  // The compaction point survives a restart.
  open();
  EXPECT_EQ(store_->compacted_revision(), 20u);
  EXPECT_EQ(store_->revision(), 30u);
}

TEST_F(StoreTest, ReopenRecoversObjectsAndRevision) {
  auto a = store_->create(key("a"), object("a", 1));
  ASSERT_TRUE(store_->create(key("b"), object("b", 2)).ok());
  ASSERT_TRUE(store_->update(key("a"), object("a", 3), {}).ok());
  ASSERT_TRUE(store_->remove(key("b"), {}).ok());
  open();
  EXPECT_EQ(store_->revision(), 4u);
  auto got = store_->get(key("a"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->mod_revision, 3u);
  EXPECT_EQ(got->uid, a->uid);
  EXPECT_EQ(parse(*got)["value"], 3);
  EXPECT_EQ(store_->get(key("b")).status().code(), StatusCode::kNotFound);
  auto next = store_->create(key("c"), object("c"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->mod_revision, 5u);  // the revision never goes backwards
}

TEST_F(StoreTest, AWriteTheLogRefusesFailsEveryLaterWriteAndHealth) {
  ASSERT_TRUE(store_->create(key("a"), object("a", 1)).ok());
  EXPECT_TRUE(store_->health().ok());
  ASSERT_EQ(testing::break_write_ahead_log(dir_), 1);

  auto refused = store_->create(key("b"), object("b"));
  EXPECT_EQ(refused.status().code(), StatusCode::kInternal);
  Status health = store_->health();
  EXPECT_EQ(health.code(), StatusCode::kInternal);
  EXPECT_NE(health.message().find("writing to the store"), std::string::npos) << health.message();
  // Sticky: a later write is refused without reaching the log, reads go on.
  EXPECT_EQ(store_->update(key("a"), object("a", 2), {}).status().code(), StatusCode::kInternal);
  auto a = store_->get(key("a"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(parse(*a)["value"], 1);
  EXPECT_EQ(store_->get(key("b")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->revision(), 1u);
}

// Writers race a failing log: every write that was acknowledged is there
// and every one that was refused is not, including writes queued behind the
// failed batch (they must not commit after revisions that never did).
TEST_F(StoreTest, WritersRacingALogFailureGetTheTruth) {
  constexpr int kThreads = 16, kWrites = 50;
  std::atomic<int> started{0};
  std::vector<std::vector<bool>> acknowledged(kThreads, std::vector<bool>(kWrites));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        ++started;
        auto r =
            store_->create(key("t" + std::to_string(t) + "-" + std::to_string(i)), object("x"));
        acknowledged[size_t(t)][size_t(i)] = r.ok();
        if (!r.ok()) {
          EXPECT_EQ(r.status().code(), StatusCode::kInternal);
        }
      }
    });
  }
  while (started < kThreads * kWrites / 4) std::this_thread::yield();
  EXPECT_EQ(testing::break_write_ahead_log(dir_), 1);
  for (auto& thread : threads) thread.join();

  int acked = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kWrites; ++i) {
      auto got = store_->get(key("t" + std::to_string(t) + "-" + std::to_string(i)));
      EXPECT_EQ(got.ok(), acknowledged[size_t(t)][size_t(i)]) << t << "-" << i;
      acked += acknowledged[size_t(t)][size_t(i)];
    }
  }
  EXPECT_GT(acked, 0);
  EXPECT_LT(acked, kThreads * kWrites);
  EXPECT_EQ(store_->revision(), uint64_t(acked));
}

TEST_F(StoreTest, ConcurrentWritersShareCommits) {
  constexpr int kThreads = 16, kWrites = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        ASSERT_TRUE(
            store_->create(key("t" + std::to_string(t) + "-" + std::to_string(i)), object("x"))
                .ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  Stats stats = store_->stats();
  EXPECT_EQ(stats.writes, uint64_t{kThreads * kWrites});
  EXPECT_EQ(store_->revision(), uint64_t{kThreads * kWrites});
  // Group commit: far fewer WAL syncs than writes.
  EXPECT_LT(stats.commit_batches, stats.writes);
}

TEST(RecordTest, RecordsRoundTripAndRejectTruncation) {
  ObjectRecord object{3, 9, 1700000000000, "uid-1", R"({"a":1})"};
  std::string bytes = encode_object_record(object);
  auto back = decode_object_record(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->create_revision, 3u);
  EXPECT_EQ(back->mod_revision, 9u);
  EXPECT_EQ(back->create_time_ms, 1700000000000);
  EXPECT_EQ(back->uid, "uid-1");
  EXPECT_EQ(back->json, R"({"a":1})");
  EXPECT_FALSE(decode_object_record(bytes.substr(0, 10)));
  EXPECT_FALSE(decode_object_record(""));

  EventRecord event{EventType::kDeleted, 42, "/k", "v", std::string("p")};
  auto e = decode_event_record(encode_event_record(event));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EventType::kDeleted);
  EXPECT_EQ(e->time_ms, 42);
  EXPECT_EQ(e->prev_value, "p");
  EXPECT_EQ(event_record_time(encode_event_record(event)), 42);
  EXPECT_FALSE(decode_event_record(encode_event_record(event).substr(0, 12)));

  // Revision keys sort numerically as bytes.
  EXPECT_LT(encode_revision_key(255), encode_revision_key(256));
  EXPECT_EQ(decode_revision_key(encode_revision_key(1ULL << 40)), 1ULL << 40);
}

TEST(ContinueTokenTest, RoundTripsAndRejectsGarbage) {
  ContinueToken token{77, 5, "/solti.io/tasks/", "/solti.io/tasks/default/x\xff"};
  auto back = decode_continue_token(encode_continue_token(token));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->revision, 77u);
  EXPECT_EQ(back->snapshot_id, 5u);
  EXPECT_EQ(back->prefix, token.prefix);
  const std::string bad_tokens[] = {"", "!!!", "e30", "eyJ2IjoyfQ", std::string(5000, 'A')};
  for (const auto& bad : bad_tokens) {
    auto r = decode_continue_token(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kBadRequest) << bad;
  }
}

}  // namespace
}  // namespace solti::store
