// kill -9 at random moments: every acknowledged write must be there after
// reopening, the revision never goes backwards, and the objects agree with
// the revision log.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "tests/unit/store/store_fixture.h"

namespace solti::store {
namespace {

struct Ack {
  uint64_t revision;
  char op;
  std::string key;
};

// Runs the writer for `run_for`, kills it with SIGKILL and returns every
// acknowledgement it printed before dying.
std::vector<Ack> run_and_kill(const std::string& dir, unsigned seed,
                              std::chrono::milliseconds run_for) {
  int out[2];
  EXPECT_EQ(pipe(out), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    std::string seed_text = std::to_string(seed);
    execl(SOLTI_CRASH_WRITER, SOLTI_CRASH_WRITER, dir.c_str(), seed_text.c_str(), nullptr);
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buffer[65536];
  // The random moment is measured from the first acknowledged write, so that
  // every cycle kills a writer that is writing, however slow the build
  // (sanitizers) makes its start.
  const auto start_limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::optional<std::chrono::steady_clock::time_point> deadline;
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    if (!deadline && text.find('\n') != std::string::npos) deadline = now + run_for;
    const auto until = deadline ? *deadline : start_limit;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
    if (left.count() <= 0) break;
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = read(out[0], buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, size_t(n));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the writer exited by itself: " << status;
  // Acknowledgements already in the pipe were made before the kill.
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) > 0;) text.append(buffer, size_t(n));
  close(out[0]);

  std::vector<Ack> acks;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    Ack ack;
    fields >> ack.revision >> ack.op >> ack.key;
    acks.push_back(ack);
  }
  if (!text.empty() && text.back() != '\n') acks.pop_back();  // a line cut by the kill
  return acks;
}

TEST(CrashTest, AcknowledgedWritesSurviveKillNine) {
  std::string dir = testing::make_temp_dir();
  std::mt19937 random(20261122);
  uint64_t last_revision = 0;
  std::map<std::string, std::pair<char, uint64_t>> last_event;  // key -> (op, revision)
  size_t total_acks = 0;

  for (int cycle = 0; cycle < 20; ++cycle) {
    auto acks = run_and_kill(dir, random(), std::chrono::milliseconds(40 + random() % 160));
    total_acks += acks.size();

    Options options;
    options.path = dir;
    options.compaction_interval = std::chrono::milliseconds(0);
    auto opened = open_rocksdb_store(options);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    Store& store = **opened;

    const uint64_t revision = store.revision();
    ASSERT_GE(revision, last_revision) << "cycle " << cycle << ": the revision went backwards";
    for (const auto& ack : acks) {
      ASSERT_GT(ack.revision, last_revision) << "cycle " << cycle << ": a revision was reused";
      ASSERT_LE(ack.revision, revision) << "cycle " << cycle << ": acknowledged revision lost";
    }

    // Every event of this cycle, from the on-disk history.
    std::map<uint64_t, Event> events;
    auto watcher = store.watch("/crash/", last_revision);
    ASSERT_TRUE(watcher.ok());
    while (events.size() < revision - last_revision) {
      auto batch =
          (*watcher)->next(std::chrono::steady_clock::now() + std::chrono::seconds(5), 1000);
      ASSERT_TRUE(batch.ok()) << batch.status().to_string();
      ASSERT_FALSE(batch->empty()) << "cycle " << cycle << ": history ends before the revision";
      for (auto& e : *batch) events.emplace(e.revision, std::move(e));
    }
    for (const auto& ack : acks) {
      auto it = events.find(ack.revision);
      ASSERT_NE(it, events.end()) << "cycle " << cycle << ": acknowledged revision " << ack.revision
                                  << " missing";
      EXPECT_EQ(it->second.key, ack.key);
      char op = it->second.type == EventType::kAdded      ? 'A'
                : it->second.type == EventType::kModified ? 'M'
                                                          : 'D';
      EXPECT_EQ(op, ack.op);
    }
    for (const auto& [rev, e] : events) {
      last_event[e.key] = {e.type == EventType::kDeleted ? 'D' : 'W', rev};
    }
    // The objects agree with the log: present exactly when the last event
    // was not a delete, at the revision of that event.
    for (const auto& [key, last] : last_event) {
      auto got = store.get(key);
      if (last.first == 'D') {
        EXPECT_EQ(got.status().code(), StatusCode::kNotFound) << key;
      } else {
        ASSERT_TRUE(got.ok()) << key;
        EXPECT_EQ(got->mod_revision, last.second) << key;
      }
    }
    watcher->reset();
    last_revision = revision;
  }
  EXPECT_GE(total_acks, 20u);  // at least one acknowledged write per cycle
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace solti::store
