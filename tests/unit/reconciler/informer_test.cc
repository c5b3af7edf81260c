#include "reconciler/informer.h"

#include <gtest/gtest.h>

#include <set>

#include "apiserver/resources.h"
#include "tests/unit/store/store_fixture.h"

namespace solti::reconciler {
namespace {

// Counts how often the informer lists.
class CountingListWatch final : public ListWatch {
 public:
  explicit CountingListWatch(ListWatch& inner) : inner_(inner) {}
  Result<api::ListPage> list() override {
    ++lists;
    return inner_.list();
  }
  Result<std::unique_ptr<api::WatchStream>> watch(const std::string& rv) override {
    return inner_.watch(rv);
  }
  int lists = 0;

 private:
  ListWatch& inner_;
};

class InformerTest : public store::testing::StoreFixture {
 protected:
  void SetUp() override { open_with_cache(16384); }

  void open_with_cache(size_t events) {
    registry_.reset();
    options_.watch_cache_events = events;
    open();
    registry_ = std::make_unique<api::Registry>(*store_, *strategy_, clock_);
    source_ = registry_list_watch(*registry_);
  }

  void create(const std::string& name) {
    Json task = {{"apiVersion", "solti.io/v1"},
                 {"kind", "Task"},
                 {"metadata", {{"name", name}}},
                 {"spec", {{"timeout", "5s"}, {"subprocess", {{"command", "/bin/true"}}}}}};
    ASSERT_TRUE(registry_->create("default", task, {}).ok());
  }

  // Pumps until `handled` holds every key in `want` (or 5 s pass).
  void pump_until(Informer& informer, const std::set<std::string>& want) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (const auto& k : want) all = all && handled_.count(k);
      if (all) return;
      ASSERT_TRUE(
          informer.pump(std::chrono::steady_clock::now() + std::chrono::milliseconds(50)).ok());
    }
    FAIL() << "not every key was handled";
  }

  std::unique_ptr<api::Strategy> strategy_ = api::make_task_strategy();
  std::unique_ptr<api::Registry> registry_;
  std::unique_ptr<ListWatch> source_;
  std::set<std::string> handled_;
};

TEST_F(InformerTest, ListsThenFollowsAddsUpdatesAndDeletes) {
  create("a");
  create("b");
  CountingListWatch counting(*source_);
  Informer informer(counting, [&](const std::string& key) { handled_.insert(key); });
  EXPECT_FALSE(informer.synced());
  pump_until(informer, {"default/a", "default/b"});
  EXPECT_TRUE(informer.synced());
  EXPECT_EQ(informer.keys(), (std::vector<std::string>{"default/a", "default/b"}));

  handled_.clear();
  create("c");
  ASSERT_TRUE(registry_
                  ->patch("default", "a", api::PatchType::kMerge,
                          Json::parse(R"({"spec":{"timeout":"9s"}})"), api::Subresource::kMain, {})
                  .ok());
  ASSERT_TRUE(registry_->remove("default", "b", {}).ok());
  pump_until(informer, {"default/a", "default/b", "default/c"});
  EXPECT_EQ(informer.keys(), (std::vector<std::string>{"default/a", "default/c"}));
  EXPECT_EQ((*informer.get("default/a"))["spec"]["timeout"], "9s");
  EXPECT_FALSE(informer.get("default/b"));
  EXPECT_EQ(informer.resource_version(), std::to_string(store_->revision()));
  EXPECT_EQ(counting.lists, 1);  // one list, then only the watch
}

TEST_F(InformerTest, RelistsAfterFallingBehindAndReportsWhatItMissed) {
  open_with_cache(4);  // a watcher more than 4 events behind is ended with Expired
  create("gone");
  create("kept");
  CountingListWatch counting(*source_);
  Informer informer(counting, [&](const std::string& key) { handled_.insert(key); });
  pump_until(informer, {"default/gone", "default/kept"});

  handled_.clear();
  ASSERT_TRUE(registry_->remove("default", "gone", {}).ok());
  for (int i = 0; i < 10; ++i) create("new" + std::to_string(i));
  pump_until(informer, {"default/gone", "default/new9"});
  EXPECT_FALSE(informer.get("default/gone"));  // the relist noticed the delete
  EXPECT_TRUE(informer.get("default/kept"));
  EXPECT_EQ(informer.keys().size(), 11u);
  EXPECT_FALSE(handled_.count("default/kept"));  // unchanged objects are not reported again
  EXPECT_EQ(counting.lists, 2);                  // the watch expired and the informer listed again
}

}  // namespace
}  // namespace solti::reconciler
