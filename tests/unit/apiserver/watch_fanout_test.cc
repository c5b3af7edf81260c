// The fanout's contract on a socket pair: each poll's text goes out as one
// HTTP/1.1 chunk, a source is polled when the store publishes and at its
// wake time, a client that leaves ends the watch, and stop() ends the body.
#include "apiserver/watch_fanout.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <mutex>
#include <thread>

#include "tests/unit/store/store_fixture.h"

namespace solti::api {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Says what the test queued; polls and its own end are observable.
class ScriptedSource final : public WatchSource {
 public:
  struct Shared {
    std::mutex mu;
    std::deque<Chunk> queued;
    SteadyClock::time_point wake = SteadyClock::time_point::max();
    int polls = 0;
    bool destroyed = false;
  };

  explicit ScriptedSource(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  ~ScriptedSource() override {
    std::lock_guard lock(shared_->mu);
    shared_->destroyed = true;
  }

  Chunk next(SteadyClock::time_point wait_until) override {
    EXPECT_LT(wait_until, SteadyClock::now()) << "the fanout must never wait in a source";
    std::lock_guard lock(shared_->mu);
    ++shared_->polls;
    if (shared_->queued.empty()) return {};
    Chunk chunk = std::move(shared_->queued.front());
    shared_->queued.pop_front();
    return chunk;
  }

  SteadyClock::time_point wake_time() const override {
    std::lock_guard lock(shared_->mu);
    return shared_->wake;
  }

 private:
  std::shared_ptr<Shared> shared_;
};

class WatchFanoutTest : public store::testing::StoreFixture {
 protected:
  void SetUp() override {
    open();
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
    fanout_ = std::make_unique<WatchFanout>(*store_, 2, std::chrono::milliseconds(200));
  }

  // Serves the scripted source and returns after its first poll (which
  // finds nothing), so that what a test queues next needs a wake-up.
  void serve() {
    fanout_->serve(fds_[0], std::make_shared<ScriptedSource>(shared_));
    while (true) {
      std::lock_guard lock(shared_->mu);
      if (shared_->polls > 0) break;
    }
  }
  void TearDown() override {
    fanout_.reset();
    ::close(fds_[1]);
  }

  void queue(std::string text, bool last = false) {
    std::lock_guard lock(shared_->mu);
    shared_->queued.push_back({std::move(text), last});
  }

  // What the client end reads within 5 s until `expected` bytes arrived or
  // the fanout closed.
  std::string read_client(size_t expected) { return read_socket(fds_[1], expected); }
  static std::string read_socket(int fd, size_t expected) {
    std::string got;
    const auto deadline = SteadyClock::now() + std::chrono::seconds(5);
    while (got.size() < expected && SteadyClock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buffer[4096];
      ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      got.append(buffer, size_t(n));
    }
    return got;
  }

  bool destroyed_within_5s() {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(5);
    while (SteadyClock::now() < deadline) {
      {
        std::lock_guard lock(shared_->mu);
        if (shared_->destroyed) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  int fds_[2] = {-1, -1};
  std::shared_ptr<ScriptedSource::Shared> shared_ = std::make_shared<ScriptedSource::Shared>();
  std::unique_ptr<WatchFanout> fanout_;
};

TEST_F(WatchFanoutTest, APublishPollsTheSourceAndItsTextGoesOutAsOneChunk) {
  serve();
  queue("{\"type\":\"ADDED\"}\n");
  // No wake time: only the commit makes the fanout poll again.
  ASSERT_TRUE(store_->create(key("a"), object("x", 1)).ok());
  const std::string expected = "11\r\n{\"type\":\"ADDED\"}\n\r\n";
  EXPECT_EQ(read_client(expected.size()), expected);
}

TEST_F(WatchFanoutTest, TheWakeTimeAloneBringsTheLastChunkAndTheSocketCloses) {
  {
    std::lock_guard lock(shared_->mu);
    shared_->wake = SteadyClock::now() + std::chrono::milliseconds(200);
  }
  serve();
  // No commit: only the timer makes the fanout poll again.
  queue("bye\n", true);
  const std::string expected = "4\r\nbye\n\r\n0\r\n\r\n";
  EXPECT_EQ(read_client(expected.size() + 1), expected);  // then EOF
  EXPECT_TRUE(destroyed_within_5s());
}

TEST_F(WatchFanoutTest, AClientThatLeavesEndsTheWatch) {
  serve();
  ::shutdown(fds_[1], SHUT_WR);
  EXPECT_TRUE(destroyed_within_5s());
}

TEST_F(WatchFanoutTest, AClientThatTakesNothingIsClosedAfterTheWriteTimeout) {
  serve();
  queue(std::string(8 << 20, 'x'));  // far more than the socket buffers hold
  ASSERT_TRUE(store_->create(key("a"), object("x", 1)).ok());
  // Nothing is read from the client's end.
  EXPECT_TRUE(destroyed_within_5s());
}

TEST_F(WatchFanoutTest, StopEndsTheBodyAndReleasesTheSource) {
  serve();
  fanout_->stop();
  EXPECT_EQ(read_client(6), "0\r\n\r\n");
  std::lock_guard lock(shared_->mu);
  EXPECT_TRUE(shared_->destroyed);
}

TEST_F(WatchFanoutTest, AfterStopANewWatchIsClosedAtOnce) {
  serve();
  fanout_->stop();
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  auto other = std::make_shared<ScriptedSource::Shared>();
  fanout_->serve(pair[0], std::make_shared<ScriptedSource>(other));
  EXPECT_EQ(read_socket(pair[1], 1), "");  // EOF: the fanout closed its end
  ::close(pair[1]);
  std::lock_guard lock(other->mu);
  EXPECT_TRUE(other->destroyed);
}

}  // namespace
}  // namespace solti::api
