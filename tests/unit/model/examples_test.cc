// The shipped example manifests all validate, together they show every kind
// and policy, and each broken manifest under tests/data/invalid/ produces
// exactly the problems its .expected file lists.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "model/manifest.h"

namespace solti {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<fs::path> files_in(const fs::path& dir, const std::string& extension) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == extension) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The same lines `soltictl validate` prints, with the file's base name.
std::vector<std::string> problems_of(const fs::path& file) {
  std::string name = file.filename().string();
  auto manifests = decode_task_manifests(read_file(file), Origin::kApi);
  if (!manifests.ok()) return {name + ": " + manifests.status().message()};
  std::vector<std::string> lines;
  for (const auto& m : *manifests) {
    for (const auto& p : m.problems) lines.push_back(p.to_string(name));
  }
  return lines;
}

const fs::path kSource = SOLTI_SOURCE_DIR;

TEST(ExamplesTest, EveryExampleIsAValidTask) {
  auto files = files_in(kSource / "manifests/examples", ".yaml");
  ASSERT_GE(files.size(), 7u);
  for (const auto& file : files) {
    EXPECT_EQ(problems_of(file), std::vector<std::string>{}) << file;
  }
}

TEST(ExamplesTest, ExamplesCoverEveryKindAndPolicy) {
  std::set<std::string> seen;
  for (const auto& file : files_in(kSource / "manifests/examples", ".yaml")) {
    auto manifests = decode_task_manifests(read_file(file), Origin::kApi);
    ASSERT_TRUE(manifests.ok()) << file;
    for (const auto& m : *manifests) {
      const TaskSpec& spec = m.task.spec;
      if (spec.subprocess && spec.subprocess->command) seen.insert("command");
      if (spec.subprocess && spec.subprocess->script) seen.insert("script");
      if (spec.wasm) seen.insert("wasm");
      if (spec.container) seen.insert("container");
      if (effective_restart_policy(spec) == RestartPolicy::kOnFailure && spec.max_retries)
        seen.insert("retried");
      if (effective_restart_policy(spec) == RestartPolicy::kAlways && spec.restart_interval)
        seen.insert("periodic");
      if (effective_admission(spec) == AdmissionPolicy::kQueue) seen.insert("queued");
      if (spec.runner_selector) seen.insert("runnerSelector");
    }
  }
  EXPECT_EQ(seen, (std::set<std::string>{"command", "script", "wasm", "container", "retried",
                                         "periodic", "queued", "runnerSelector"}));
}

TEST(ExamplesTest, EachInvalidManifestGivesExactlyItsExpectedProblems) {
  auto files = files_in(kSource / "tests/data/invalid", ".yaml");
  ASSERT_GE(files.size(), 20u);
  for (const auto& file : files) {
    fs::path expected_file = file;
    expected_file.replace_extension(".expected");
    ASSERT_TRUE(fs::exists(expected_file)) << expected_file;
    std::vector<std::string> expected;
    std::istringstream lines(read_file(expected_file));
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) expected.push_back(line);
    }
    ASSERT_FALSE(expected.empty()) << expected_file << " lists no problem";
    EXPECT_EQ(problems_of(file), expected) << file;
  }
}

}  // namespace
}  // namespace solti
