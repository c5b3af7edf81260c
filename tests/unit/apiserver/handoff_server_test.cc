#include "apiserver/handoff_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/raw_socket.h"

namespace solti::api {
namespace {

using httplib::Request;
using httplib::Response;

// How long a test waits for a reply that should come before it fails.
constexpr int kReplyTimeoutMs = 10'000;
// Connections the server under test takes at once: more than its runners
// (4 per core, at least 8), so that blocked handlers need stand-ins.
constexpr size_t kMaxConnections = 24;

struct RawResponse {
  int status = 0;
  std::string head;
  std::string body;
};

// A client that speaks HTTP/1.1 over one raw socket, so that tests can
// pipeline requests and see exactly what arrives and when.
class RawClient {
 public:
  explicit RawClient(int port) : fd_(solti::testing::connect_to(port)) {}
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool connected() const { return fd_ >= 0; }

  bool send(const std::string& text) {
    return ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) == ssize_t(text.size());
  }

  // True when bytes (or the end of the stream) arrive within `timeout_ms`.
  bool readable(int timeout_ms) {
    if (!in_.empty()) return true;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
  }

  // The next response (Content-Length framed); status 0 when none came.
  RawResponse next() {
    RawResponse response;
    while (true) {
      const size_t head_end = in_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        response.head = in_.substr(0, head_end);
        const size_t length_at = response.head.find("Content-Length: ");
        const size_t length = length_at == std::string::npos
                                  ? 0
                                  : std::strtoul(&response.head[length_at + 16], nullptr, 10);
        if (in_.size() >= head_end + 4 + length) {
          response.status = std::atoi(in_.c_str() + 9);
          response.body = in_.substr(head_end + 4, length);
          in_.erase(0, head_end + 4 + length);
          return response;
        }
      }
      if (!fill()) return {};
    }
  }

  // True when the server closed the connection (and sent nothing more).
  bool closed_by_server() { return in_.empty() && !fill(); }

 private:
  bool fill() {
    if (!readable(kReplyTimeoutMs)) return false;
    char buffer[64 * 1024];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    in_.append(buffer, size_t(n));
    return true;
  }

  int fd_;
  std::string in_;
};

std::string post(const std::string& path, const std::string& extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n" + extra_headers +
         "\r\n";
}
std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n";
}

Response reply(int status, std::string body) {
  Response response;
  response.status = status;
  response.set_content(std::move(body), "text/plain");
  return response;
}

class HandoffServerTest : public ::testing::Test {
 protected:
  // Before the server starts.
  virtual void configure(HandoffServer&) {}

  void SetUp() override {
    configure(server_);
    server_.Get("/block", [this](const Request&, Response& res) {
      std::unique_lock lock(mu_);
      ++blocked_;
      changed_.notify_all();
      changed_.wait(lock, [&] { return released_; });
      res.set_content("released", "text/plain");
    });
    server_.Post("/late", [this](const Request& req, Response&) {
      auto later = HandoffServer::reply_later(req);
      std::lock_guard lock(mu_);
      parked_.push_back(std::move(later));
      changed_.notify_all();
    });
    server_.Post("/dropped", [](const Request& req, Response& res) {
      HandoffServer::reply_later(req);
      res.set_content("never sent", "text/plain");
    });
    server_.Get("/now", [this](const Request&, Response& res) {
      {
        std::lock_guard lock(mu_);
        ++answered_now_;
        changed_.notify_all();
      }
      res.set_content("now", "text/plain");
    });
    // Tests connect dozens at once; cpp-httplib listens with a backlog of 5.
    server_.set_socket_options([this](socket_t sock) { listen_socket_ = sock; });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    ::listen(listen_socket_, 128);
    thread_ = std::thread([this] {
      server_.listen_after_bind();
      listen_ended_ = true;
    });
    for (int i = 0; i < 2000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_TRUE(server_.is_running());
    client_.emplace(port_);
    ASSERT_TRUE(client_->connected());
  }

  void TearDown() override {
    {
      std::lock_guard lock(mu_);
      parked_.clear();  // answers 500 to anything left
      released_ = true;
      changed_.notify_all();
    }
    server_.stop();
    thread_.join();
  }

  // Sends `requests` on client_; the reply of the /late among them, once
  // its handler has run.
  std::shared_ptr<HandoffServer::LateReply> send_late(const std::string& requests) {
    EXPECT_TRUE(client_->send(requests));
    return parked(0);
  }

  // The reply of the `index`th /late request, once its handler has run.
  std::shared_ptr<HandoffServer::LateReply> parked(size_t index) {
    std::unique_lock lock(mu_);
    return changed(lock, [&] { return parked_.size() > index; }) ? parked_[index] : nullptr;
  }

  bool wait_for_now_answered(int count) {
    std::unique_lock lock(mu_);
    return changed(lock, [&] { return answered_now_ >= count; });
  }

  bool wait_for_blocked(int count) {
    std::unique_lock lock(mu_);
    return changed(lock, [&] { return blocked_ >= count; });
  }

  // Waits (holding `lock` on mu_) until `done`, or the reply timeout.
  template <typename Done>
  bool changed(std::unique_lock<std::mutex>& lock, Done done) {
    return changed_.wait_for(lock, std::chrono::milliseconds(kReplyTimeoutMs), done);
  }

  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    changed_.notify_all();
  }

  HandoffServer server_{kMaxConnections};
  int listen_socket_ = -1;
  int port_ = 0;
  std::optional<RawClient> client_;
  std::thread thread_;
  std::atomic<bool> listen_ended_{false};
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::shared_ptr<HandoffServer::LateReply>> parked_;
  int answered_now_ = 0;
  int blocked_ = 0;  // /block handlers waiting for release()
  bool released_ = false;
};

TEST_F(HandoffServerTest, ALateReplySentFromAnotherThreadKeepsTheConnectionAlive) {
  auto later = send_late(post("/late"));
  ASSERT_TRUE(later);
  EXPECT_FALSE(client_->readable(50)) << "the handler's own Response must be dropped";

  std::thread([&] { later->send(reply(201, "made")); }).join();
  RawResponse made = client_->next();
  EXPECT_EQ(made.status, 201);
  EXPECT_EQ(made.body, "made");
  EXPECT_NE(made.head.find("HTTP/1.1 201 Created\r\n"), std::string::npos) << made.head;
  EXPECT_NE(made.head.find("Keep-Alive: timeout="), std::string::npos) << made.head;

  ASSERT_TRUE(client_->send(get("/now")));
  RawResponse now = client_->next();
  EXPECT_EQ(now.status, 200);
  EXPECT_EQ(now.body, "now");
}

TEST_F(HandoffServerTest, ARequestPipelinedBehindALateReplyIsAnsweredAfterIt) {
  auto later = send_late(post("/late") + get("/now"));
  ASSERT_TRUE(later);
  // The second request is handled, but its answer waits for the first's.
  ASSERT_TRUE(wait_for_now_answered(1));
  EXPECT_FALSE(client_->readable(50));

  later->send(reply(201, "first"));
  EXPECT_EQ(client_->next().body, "first");
  EXPECT_EQ(client_->next().body, "now");
}

TEST_F(HandoffServerTest, ARequestSentWhileALateReplyIsPendingIsReadAndHandled) {
  auto later = send_late(post("/late"));
  ASSERT_TRUE(later);
  // A separate segment, so not in the buffer the first request came in.
  ASSERT_TRUE(client_->send(get("/now")));
  EXPECT_TRUE(wait_for_now_answered(1)) << "the connection's thread waited for the late reply";

  later->send(reply(201, "first"));
  EXPECT_EQ(client_->next().body, "first");
  EXPECT_EQ(client_->next().body, "now");
}

TEST_F(HandoffServerTest, ALateReplyDroppedUnsentAnswers500) {
  ASSERT_TRUE(client_->send(post("/dropped")));
  RawResponse response = client_->next();
  EXPECT_EQ(response.status, 500);
  EXPECT_NE(response.body.find("not answered"), std::string::npos) << response.body;
}

TEST_F(HandoffServerTest, TheRestOfALateReplyTheSocketDidNotTakeGoesOutWithoutBlockingItsSender) {
  auto later = send_late(post("/late"));
  ASSERT_TRUE(later);
  // Far more than a loopback socket buffers: send() returns having written
  // part, without waiting for this client to read.
  std::string big(32 << 20, 'x');
  big.back() = 'y';
  // Neither the send nor dropping the reply afterwards (as the store's
  // committing thread does) waits for this client, which reads nothing yet,
  // even once whoever writes the rest is under way.
  auto sender = std::async(std::launch::async, [&] {
    later->send(reply(200, big));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    later->send(reply(500, "ignored: the reply was sent"));
    later.reset();
    std::lock_guard lock(mu_);
    parked_.clear();
  });
  EXPECT_EQ(sender.wait_for(std::chrono::seconds(3)), std::future_status::ready);

  RawResponse response = client_->next();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body.size(), big.size());
  EXPECT_EQ(response.body.back(), 'y');
  ASSERT_TRUE(client_->send(get("/now")));
  EXPECT_EQ(client_->next().body, "now");
}

TEST_F(HandoffServerTest, ALateReplyToConnectionCloseIsSentBeforeTheClose) {
  auto later = send_late(post("/late", "Connection: close\r\n"));
  ASSERT_TRUE(later);
  EXPECT_FALSE(client_->readable(50)) << "the connection must stay open for the reply";

  later->send(reply(201, "last"));
  RawResponse response = client_->next();
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.body, "last");
  EXPECT_NE(response.head.find("Connection: close"), std::string::npos) << response.head;
  EXPECT_TRUE(client_->closed_by_server());
}

TEST_F(HandoffServerTest, AReplyStillPendingWhenTheServerStopsIsSent) {
  auto later = send_late(post("/late"));
  ASSERT_TRUE(later);
  server_.stop();
  // The connection, idle but owed a reply, keeps the server from finishing
  // (it would close the socket within a 100 ms slice otherwise).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(listen_ended_);
  later->send(reply(201, "in time"));
  EXPECT_EQ(client_->next().body, "in time");
  EXPECT_TRUE(client_->closed_by_server());
}

// Connections wait for their next request in one epoll set and a few
// runner threads serve whichever is ready. A handler that blocks (a write
// waiting for its fsync, a slow client) holds its runner; another takes its
// place, so that every connection but the blocked ones is still answered.
TEST_F(HandoffServerTest, HandlersThatBlockDoNotHoldUpOtherConnections) {
  const int kBlocked = int(kMaxConnections) - 1;  // client_ is the last one
  std::vector<std::unique_ptr<RawClient>> blocked;
  for (int i = 0; i < kBlocked; ++i) {
    blocked.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(blocked.back()->send(get("/block")));
  }
  ASSERT_TRUE(wait_for_blocked(kBlocked)) << "a request waited behind a blocked handler";
  ASSERT_TRUE(client_->send(get("/now")));
  EXPECT_EQ(client_->next().body, "now");

  release();
  for (auto& client : blocked) EXPECT_EQ(client->next().body, "released");
  ASSERT_TRUE(client_->send(get("/now")));
  EXPECT_EQ(client_->next().body, "now");
}

// As cpp-httplib's own thread pool would have it, a connection beyond the
// most served at once waits for one to close; a burst of connects (watchers
// starting) is not refused. Beyond as many again waiting, one is refused.
TEST_F(HandoffServerTest, ConnectionsBeyondTheMostAtOnceWaitAndBeyondTwiceThatAreRefused) {
  std::vector<std::unique_ptr<RawClient>> served;
  // Each is answered once, so that the server surely serves it.
  ASSERT_TRUE(client_->send(get("/now")));
  ASSERT_EQ(client_->next().status, 200);
  for (size_t i = 1; i < kMaxConnections; ++i) {
    served.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(served.back()->send(get("/now")));
    ASSERT_EQ(served.back()->next().status, 200);
  }
  // One more than can wait. Connections are handed over concurrently, so
  // which of them is refused is not known in advance.
  std::vector<std::unique_ptr<RawClient>> waiting;
  for (size_t i = 0; i <= kMaxConnections; ++i) {
    waiting.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(waiting.back()->send(get("/now")));
  }
  auto refused = waiting.end();
  for (int round = 0; round < 1000 && refused == waiting.end(); ++round) {
    refused = std::find_if(waiting.begin(), waiting.end(),
                           [](const auto& client) { return client->readable(10); });
  }
  ASSERT_NE(refused, waiting.end()) << "no connection was refused";
  RawResponse refusal = (*refused)->next();  // answered at once, unread
  EXPECT_EQ(refusal.status, 503);
  EXPECT_NE(refusal.body.find("24 served and as many waiting"), std::string::npos) << refusal.body;
  EXPECT_NE(refusal.head.find("Connection: close"), std::string::npos) << refusal.head;
  EXPECT_TRUE((*refused)->closed_by_server());
  waiting.erase(refused);
  for (const auto& client : waiting) {
    EXPECT_FALSE(client->readable(0)) << "a connection beyond the most was served";
  }

  ASSERT_TRUE(served.front()->send(get("/now")));
  EXPECT_EQ(served.front()->next().status, 200) << "the connections served were harmed";
  // Those that leave make room for those waiting; the server learns of it
  // when it reads the end of each stream.
  served.clear();
  client_.reset();
  for (size_t i = 0; i < waiting.size(); ++i) EXPECT_EQ(waiting[i]->next().status, 200) << i;
}

TEST_F(HandoffServerTest, TheServerListensAgainAfterItStopped) {
  ASSERT_TRUE(client_->send(get("/now")));
  ASSERT_EQ(client_->next().status, 200);
  server_.stop();
  thread_.join();

  port_ = server_.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port_, 0);
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  client_.emplace(port_);
  ASSERT_TRUE(client_->send(get("/now")));
  EXPECT_EQ(client_->next().body, "now");
}

class ShortKeepAliveTest : public HandoffServerTest {
 protected:
  void configure(HandoffServer& server) override { server.set_keep_alive_timeout(1); }
};

// Keep-alive idle time counts from when the client has its answer: a
// connection that waits for a late reply is not idle.
TEST_F(ShortKeepAliveTest, AnIdleConnectionIsClosedAndOneOwedAReplyIsNot) {
  auto later = send_late(post("/late"));
  ASSERT_TRUE(later);
  RawClient idle(port_);
  ASSERT_TRUE(idle.send(get("/now")));
  ASSERT_EQ(idle.next().status, 200);
  EXPECT_TRUE(idle.closed_by_server()) << "the idle connection was kept past its keep-alive";

  later->send(reply(201, "still here"));
  EXPECT_EQ(client_->next().body, "still here");
  ASSERT_TRUE(client_->send(get("/now")));
  EXPECT_EQ(client_->next().body, "now");
}

}  // namespace
}  // namespace solti::api
