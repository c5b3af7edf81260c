// Read-modify-CAS increments from many threads: no update may be lost, and
// every failed write must be a conflict.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/unit/store/store_fixture.h"

namespace solti::store {
namespace {

using testing::StoreFixture;

class ConcurrencyTest : public StoreFixture {
 protected:
  void SetUp() override { open(); }
};

TEST_F(ConcurrencyTest, CasIncrementsLoseNoUpdate) {
  constexpr int kKeys = 4, kThreads = 8, kAttempts = 150;
  for (int k = 0; k < kKeys; ++k)
    ASSERT_TRUE(store_->create(key("c" + std::to_string(k)), object("c", 0)).ok());

  std::atomic<int> successes[kKeys] = {};
  std::atomic<int> conflicts{0}, other_failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAttempts; ++i) {
        int k = (t + i) % kKeys;
        std::string counter_key = key("c" + std::to_string(k));
        auto current = store_->get(counter_key);
        if (!current.ok()) {
          ++other_failures;
          continue;
        }
        Json j = Json::parse(*current->value);
        j["value"] = j["value"].get<int>() + 1;
        auto written =
            store_->update(counter_key, j, Preconditions{current->mod_revision, current->uid});
        if (written.ok()) {
          ++successes[k];
        } else if (written.status().code() == StatusCode::kConflict) {
          ++conflicts;
        } else {
          ++other_failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_EQ(other_failures.load(), 0);
  int total = 0;
  for (int k = 0; k < kKeys; ++k) {
    auto final_value =
        Json::parse(*store_->get(key("c" + std::to_string(k)))->value)["value"].get<int>();
    EXPECT_EQ(final_value, successes[k].load()) << "key " << k;
    total += successes[k].load();
  }
  EXPECT_EQ(total + conflicts.load(), kThreads * kAttempts);
  EXPECT_GT(conflicts.load(), 0);  // the threads really did race
  EXPECT_EQ(store_->revision(), uint64_t(kKeys + total));
}

}  // namespace
}  // namespace solti::store
