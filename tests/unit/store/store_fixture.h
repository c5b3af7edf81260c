// A RocksDB store in a fresh temporary directory, with a fake clock and no
// background compaction, reopenable within a test.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "model/clock.h"
#include "store/store.h"

namespace solti::store::testing {

inline std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "solti-store-XXXXXX").string();
  char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  return pattern;
}

// Makes every later write to the RocksDB write-ahead log under `dir` fail,
// as a full disk would: the log's descriptor in this process now refers to
// a read-only /dev/null. Returns how many log descriptors it replaced.
inline int break_write_ahead_log(const std::string& dir) {
  int replaced = 0;
  const auto canonical = std::filesystem::canonical(dir).string();
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    const auto target = std::filesystem::read_symlink(entry.path(), error).string();
    if (error || target.rfind(canonical + "/", 0) != 0 || !target.ends_with(".log")) continue;
    const int read_only = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (read_only < 0) continue;
    if (dup2(read_only, std::stoi(entry.path().filename().string())) >= 0) ++replaced;
    close(read_only);
  }
  return replaced;
}

class StoreFixture : public ::testing::Test {
 protected:
  StoreFixture() : dir_(make_temp_dir()) {
    options_.path = dir_;
    options_.clock = &clock_;
    options_.compaction_interval = std::chrono::milliseconds(0);
  }
  ~StoreFixture() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void open() {
    store_.reset();
    auto opened = open_rocksdb_store(options_);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
  }

  static Json object(std::string name, int value = 0) {
    return Json{{"kind", "Thing"}, {"metadata", {{"name", name}}}, {"value", value}};
  }
  static Json parse(const StoredObject& o) { return Json::parse(*o.value); }
  static std::string key(std::string name, std::string ns = "default") {
    return "/test/things/" + ns + "/" + name;
  }

  std::string dir_;
  FakeClock clock_;
  Options options_;
  std::unique_ptr<Store> store_;
};

}  // namespace solti::store::testing
