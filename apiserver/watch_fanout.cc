#include "apiserver/watch_fanout.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <functional>
#include <set>
#include <thread>

namespace solti::api {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;
using Socket = asio::generic::stream_protocol::socket;

namespace {

constexpr std::string_view kLastChunk = "0\r\n\r\n";

class Watch : public std::enable_shared_from_this<Watch> {
 public:
  using Closed = std::function<void(const std::shared_ptr<Watch>&)>;

  Watch(asio::io_context& io, Socket socket, std::shared_ptr<WatchSource> source, Closed closed)
      : socket_(std::move(socket)),
        source_(std::move(source)),
        timer_(io),
        closed_(std::move(closed)) {}

  void start() {
    read();
    pump();
  }

  // Polls the source and writes what it has, unless a write is under way
  // (its completion polls again).
  void pump() {
    if (writing_ || !source_) return;
    WatchSource::Chunk chunk = source_->next(SteadyClock::time_point::min());
    if (chunk.text.empty() && !chunk.last) {
      arm_timer();
      return;
    }
    body_ = std::move(chunk.text);
    head_.clear();
    tail_.clear();
    if (!body_.empty()) {
      char size[20];
      int n = std::snprintf(size, sizeof size, "%zx\r\n", body_.size());
      head_.assign(size, size_t(n));
      tail_ = "\r\n";
    }
    if (chunk.last) tail_ += kLastChunk;
    writing_ = true;
    write_started_ = SteadyClock::now();
    std::array<asio::const_buffer, 3> buffers = {asio::buffer(head_), asio::buffer(body_),
                                                 asio::buffer(tail_)};
    asio::async_write(socket_, buffers,
                      [self = shared_from_this(), last = chunk.last](auto error, size_t) {
                        self->writing_ = false;
                        if (error || last) return self->close();
                        self->pump();
                      });
  }

  // Closes a watch whose client has not taken a write for `timeout`: it
  // would hold its socket and its place among the open watches until its
  // deadline, half an hour or more.
  void close_if_stalled(SteadyClock::time_point now, SteadyClock::duration timeout) {
    if (writing_ && now - write_started_ > timeout) close();
  }

  // Writes the end of the body if the socket takes it now, and closes.
  void end() {
    if (!writing_ && source_) {
      boost::system::error_code ignored;
      socket_.non_blocking(true, ignored);
      socket_.send(asio::buffer(kLastChunk), 0, ignored);
    }
    close();
  }

 private:
  // Reads (and ignores) what the client sends, to learn when it leaves.
  void read() {
    socket_.async_read_some(asio::buffer(ignored_),
                            [self = shared_from_this()](auto error, size_t) {
                              if (error) return self->close();
                              self->read();
                            });
  }

  void arm_timer() {
    const auto at = source_->wake_time();
    if (at == timer_at_) return;
    timer_at_ = at;
    timer_.expires_at(at);
    timer_.async_wait([self = shared_from_this()](auto error) {
      if (error) return;
      self->timer_at_ = {};
      self->pump();
    });
  }

  void close() {
    if (!source_) return;
    source_.reset();
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_send, ignored);
    socket_.close(ignored);
    closed_(shared_from_this());
  }

  Socket socket_;
  std::shared_ptr<WatchSource> source_;  // null once closed
  asio::steady_timer timer_;
  SteadyClock::time_point timer_at_{};
  Closed closed_;
  bool writing_ = false;
  SteadyClock::time_point write_started_{};
  std::string head_, body_, tail_;  // the write under way
  std::array<char, 512> ignored_;
};

}  // namespace

class WatchFanout::Loop {
 public:
  explicit Loop(SteadyClock::duration write_timeout)
      : work_(asio::make_work_guard(io_)),
        write_timeout_(write_timeout),
        sweep_timer_(io_),
        thread_([this] { io_.run(); }) {
    asio::post(io_, [this] { sweep(); });
  }

  ~Loop() { stop(); }

  void serve(int fd, std::shared_ptr<WatchSource> source) {
    // Closes the socket if the loop never runs the handler (stopped).
    auto owned = std::shared_ptr<int>(new int(fd), [](int* p) {
      if (*p >= 0) ::close(*p);
      delete p;
    });
    if (stopped_) return;
    asio::post(io_, [this, owned, source = std::move(source)]() mutable {
      if (stopped_) return;  // raced with stop(), which ended the others
      boost::system::error_code error;
      Socket socket(io_);
      socket.assign(protocol_of(*owned), *owned, error);
      if (error) return;
      *owned = -1;
      auto watch =
          std::make_shared<Watch>(io_, std::move(socket), std::move(source),
                                  [this](const std::shared_ptr<Watch>& w) { watches_.erase(w); });
      watches_.insert(watch);
      watch->start();
    });
  }

  // Coalesces: one poll of every watch however many commits arrive meanwhile.
  void wake() {
    if (poll_queued_.exchange(true)) return;
    asio::post(io_, [this] {
      poll_queued_ = false;
      for (const auto& w : snapshot()) w->pump();
    });
  }

  void stop() {
    stopped_ = true;
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      sweep_timer_.cancel();
      for (const auto& w : snapshot()) w->end();
      work_.reset();
    });
    thread_.join();
  }

 private:
  static asio::generic::stream_protocol protocol_of(int fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    return {addr.ss_family, SOCK_STREAM};
  }

  // Once a second rather than a timer per write: a thousand watchers write
  // hundreds of thousands of times a second.
  void sweep() {
    if (stopped_) return;
    const auto now = SteadyClock::now();
    for (const auto& w : snapshot()) w->close_if_stalled(now, write_timeout_);
    sweep_timer_.expires_after(std::chrono::seconds(1));
    sweep_timer_.async_wait([this](auto error) {
      if (!error) sweep();
    });
  }

  // Watches can close while being polled; iterate over a copy.
  std::vector<std::shared_ptr<Watch>> snapshot() const {
    return {watches_.begin(), watches_.end()};
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  const SteadyClock::duration write_timeout_;
  asio::steady_timer sweep_timer_;
  std::set<std::shared_ptr<Watch>> watches_;  // loop thread only
  std::atomic<bool> poll_queued_{false};
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

WatchFanout::WatchFanout(store::Store& store, size_t threads,
                         std::chrono::milliseconds write_timeout) {
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) {
    loops_.push_back(std::make_unique<Loop>(write_timeout));
  }
  subscription_ = store.on_publish([this] {
    for (auto& loop : loops_) loop->wake();
  });
}

WatchFanout::~WatchFanout() { stop(); }

void WatchFanout::serve(int socket, std::shared_ptr<WatchSource> source) {
  loops_[next_loop_++ % loops_.size()]->serve(socket, std::move(source));
}

void WatchFanout::stop() {
  subscription_.reset();
  for (auto& loop : loops_) loop->stop();
}

}  // namespace solti::api
