// The registry's optimistic concurrency as clients see it: writers that
// sent no resourceVersion (patches, applies, updates without one) never get
// a 409 for losing a race; a stale resourceVersion always does.
#include "apiserver/registry.h"

#include <gtest/gtest.h>

#include <thread>

#include "apiserver/resources.h"
#include "tests/unit/store/store_fixture.h"

namespace solti::api {
namespace {

// With fsync on too: a write waiting for its fsync is what a racing writer
// used to spin against until it ran out of retries.
class RegistryTest : public store::testing::StoreFixture,
                     public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    options_.sync_writes = GetParam();
    open();
    strategy_ = make_task_strategy();
    registry_ = std::make_unique<Registry>(*store_, *strategy_, clock_);
    Json task = {{"apiVersion", "solti.io/v1"},
                 {"kind", "Task"},
                 {"metadata", {{"name", "shared"}}},
                 {"spec", {{"timeout", "5s"}, {"subprocess", {{"command", "/bin/true"}}}}}};
    ASSERT_TRUE(registry_->create("default", task, {}).ok());
  }

  std::unique_ptr<Strategy> strategy_;
  std::unique_ptr<Registry> registry_;
};

TEST_P(RegistryTest, RacingPatchesAndAppliesWithoutAResourceVersionAllSucceed) {
  constexpr int kThreads = 16, kWrites = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      WriteOptions options;
      options.field_manager = "writer-" + std::to_string(t);
      for (int i = 0; i < kWrites; ++i) {
        const std::string label = "w" + std::to_string(t);
        Result<WriteResult> r =
            t % 2 == 0
                ? registry_->patch("default", "shared", PatchType::kMerge,
                                   {{"metadata", {{"labels", {{label, std::to_string(i)}}}}}},
                                   Subresource::kMain, options)
                : registry_->apply("default", "shared",
                                   {{"apiVersion", "solti.io/v1"},
                                    {"kind", "Task"},
                                    {"metadata", {{"labels", {{label, std::to_string(i)}}}}}},
                                   Subresource::kMain, options, false);
        if (!r.ok() && failures++ == 0) ADD_FAILURE() << r.status().to_string();
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(failures.load(), 0);
  auto final = registry_->get("default", "shared");
  ASSERT_TRUE(final.ok());
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(final->at("metadata").at("labels").value("w" + std::to_string(t), ""),
              std::to_string(kWrites - 1));
}

TEST_P(RegistryTest, AStaleResourceVersionIsAlwaysAConflict) {
  auto current = registry_->get("default", "shared");
  ASSERT_TRUE(current.ok());
  Json stale = *current;
  ASSERT_TRUE(registry_
                  ->patch("default", "shared", PatchType::kMerge,
                          {{"metadata", {{"labels", {{"a", "b"}}}}}}, Subresource::kMain, {})
                  .ok());
  stale["metadata"]["labels"] = {{"c", "d"}};
  auto r = registry_->update("default", "shared", stale, Subresource::kMain, {});
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  auto patched =
      registry_->patch("default", "shared", PatchType::kMerge,
                       {{"metadata", {{"resourceVersion", stale["metadata"]["resourceVersion"]}}}},
                       Subresource::kMain, {});
  EXPECT_EQ(patched.status().code(), StatusCode::kConflict);
}

INSTANTIATE_TEST_SUITE_P(Fsync, RegistryTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Durable" : "Unsynced"; });

}  // namespace
}  // namespace solti::api
