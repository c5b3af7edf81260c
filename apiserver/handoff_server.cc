#include "apiserver/handoff_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "apiserver/connection_pool.h"

namespace solti::api {

// A late reply's state, shared by the reply (the handler's side) and the
// connection's stream. Neither the sender (the store's committing thread)
// nor the connection's thread ever waits for the client: the sender writes
// what the socket takes at once and a thread of the reply's own writes the
// rest. The connection's thread writes nothing, and keeps the socket open,
// until the reply is out.
struct HandoffServer::LateReply::Slot : std::enable_shared_from_this<Slot> {
  enum class State { kWaiting, kSending, kSent, kFailed };

  Slot(int sock, bool close, std::string keep_alive)
      : sock(sock), close(close), keep_alive(std::move(keep_alive)) {}

  // Any thread; the first call wins and later ones return at once.
  void send(const httplib::Response& response);
  // The connection's thread: waits until the reply is out; false when the
  // connection failed.
  bool settle();
  // Whether the client still waits for (part of) the reply.
  bool pending();

  const int sock;
  const bool close;              // the last response on the connection
  const std::string keep_alive;  // else, the Keep-Alive header's value
  std::atomic<bool> taken{false};

 private:
  void finish(State outcome);

  std::mutex mu;
  std::condition_variable out;
  State state = State::kWaiting;
};

namespace {

class SocketStream;

struct Connection {
  SocketStream* stream;
  int epoll;                 // the crew's, which holds the connection between requests
  std::string keep_alive;    // the Keep-Alive header's value, as cpp-httplib writes it
  size_t requests_left = 0;  // on this connection, this one included
  bool taken = false;
  bool replying_later = false;
};

thread_local Connection* current_connection = nullptr;

// Waits up to `timeout_ms` (-1: forever) for `events`; >0 ready (the
// events that are in `ready`), 0 timed out, <0 error.
int wait_for(int sock, short events, int timeout_ms, short* ready = nullptr) {
  pollfd p{sock, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r > 0 && (p.revents & (POLLERR | POLLNVAL))) return -1;
  if (ready) *ready = p.revents;
  return r;
}

int to_ms(time_t sec, time_t usec) { return int(sec * 1000 + usec / 1000); }

void address_of(int sock, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int r = peer ? ::getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len)
               : ::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len);
  if (r != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
  }
  ip = text;
}

ssize_t send_retrying(int sock, const char* ptr, size_t size, int flags = 0) {
  ssize_t n;
  do {
    n = ::send(sock, ptr, size, flags | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

// Blocking sends (each within the socket's SO_SNDTIMEO) until all of `text`
// is out; false when the connection failed.
bool send_all(int sock, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = send_retrying(sock, text.data(), text.size());
    if (n <= 0) return false;
    text.remove_prefix(size_t(n));
  }
  return true;
}

void set_timeout(int sock, int option, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(sock, SOL_SOCKET, option, &tv, sizeof tv);
}

// A blocking socket read through a buffer: cpp-httplib parses request lines
// a byte at a time. Reads and writes wait in the kernel (SO_RCVTIMEO,
// SO_SNDTIMEO) rather than polling before each call: a request took four
// polls besides its recv and two sends.
//
// cpp-httplib writes a response's head and body separately. The head is held
// until the body comes, so that both leave in one send: one segment and one
// wakeup of the client instead of two (sends were 10% of soltid's profile
// under creates). Held bytes go out before anything could wait for the
// client: a read, is_writable(), the end of a request, a handoff.
class SocketStream final : public httplib::Stream {
 public:
  SocketStream(int sock, int read_timeout_ms, int write_timeout_ms)
      : sock_(sock), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms) {
    set_timeout(sock, SO_RCVTIMEO, read_timeout_ms);
    set_timeout(sock, SO_SNDTIMEO, write_timeout_ms);
  }

  bool is_readable() const override { return wait_for(sock_, POLLIN, read_timeout_ms_) > 0; }

  // Also false once the peer has closed, so that a streaming response (logs
  // with follow) ends when its client leaves. One poll when the client has
  // sent nothing, as is usual while it waits for a response.
  bool is_writable() const override {
    if (!flush()) return false;
    short ready = 0;
    if (wait_for(sock_, POLLOUT | POLLIN, write_timeout_ms_, &ready) <= 0) return false;
    if (ready & (POLLIN | POLLHUP)) {
      char byte;
      if (::recv(sock_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) return false;
      if (!(ready & POLLOUT)) return wait_for(sock_, POLLOUT, write_timeout_ms_) > 0;
    }
    return true;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == end_) {
      // Not flush(): a pipelined request is read while a late reply is
      // pending (what is held was written after it settled).
      if (!send_held()) return -1;
      ssize_t n;
      do {
        n = ::recv(sock_, buffer_.data(), buffer_.size(), 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = size_t(n);
    }
    size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, buffer_.data() + begin_, n);
    begin_ += n;
    return ssize_t(n);
  }

  // Partial writes are fine: cpp-httplib writes the rest.
  ssize_t write(const char* ptr, size_t size) override {
    if (muted_) return ssize_t(size);
    if (!settle()) return -1;
    if (held_.empty()) {
      if (size > kMaxHeld) return send_retrying(sock_, ptr, size);
      held_.assign(ptr, size);
      return ssize_t(size);
    }
    iovec parts[2] = {{held_.data(), held_.size()}, {const_cast<char*>(ptr), size}};
    msghdr message{};
    message.msg_iov = parts;
    message.msg_iovlen = 2;
    ssize_t n;
    do {
      n = ::sendmsg(sock_, &message, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return n;
    if (size_t(n) < held_.size()) {
      held_.erase(0, size_t(n));
      return flush() ? 0 : -1;
    }
    const size_t sent = size_t(n) - held_.size();
    held_.clear();
    return ssize_t(sent);
  }

  // Sends what is held, after any late reply; false when the connection
  // failed.
  bool flush() const { return settle() && send_held(); }

  // Asked for on every request; a connection's addresses do not change, so
  // they are looked up once rather than two system calls per request.
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    if (remote_port_ < 0) address_of(sock_, true, remote_ip_, remote_port_);
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    if (local_port_ < 0) address_of(sock_, false, local_ip_, local_port_);
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return sock_; }

  size_t buffered() const { return end_ - begin_; }

  // The current request is answered through `slot`: its response, which
  // cpp-httplib writes next, is dropped until unmute().
  void reply_later(std::shared_ptr<HandoffServer::LateReply::Slot> slot) {
    late_ = std::move(slot);
    muted_ = true;
  }
  void unmute() { muted_ = false; }

  // Waits until a late reply is out; false when the connection failed.
  bool settle() const {
    if (!late_) return true;
    const bool sent = late_->settle();
    late_.reset();
    return sent;
  }
  bool reply_pending() const { return late_ && late_->pending(); }

 private:
  static constexpr size_t kMaxHeld = 4096;  // response heads are a few hundred bytes

  bool send_held() const {
    const bool sent = send_all(sock_, held_);
    held_.clear();
    return sent;
  }

  int sock_;
  int read_timeout_ms_;
  int write_timeout_ms_;
  std::array<char, 16 * 1024> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  mutable std::string held_;                                      // written, not yet sent
  mutable std::shared_ptr<HandoffServer::LateReply::Slot> late_;  // goes out before anything else
  bool muted_ = false;
  mutable std::string remote_ip_, local_ip_;
  mutable int remote_port_ = -1, local_port_ = -1;
};

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

// `response` as cpp-httplib writes it (headers in its order), uncompressed.
std::string response_text(const httplib::Response& response, bool close,
                          const std::string& keep_alive) {
  httplib::Headers headers = response.headers;
  headers.erase("Content-Length");
  headers.emplace("Content-Length", std::to_string(response.body.size()));
  if (close) {
    headers.emplace("Connection", "close");
  } else {
    headers.emplace("Keep-Alive", keep_alive);
  }
  std::string text =
      "HTTP/1.1 " + std::to_string(response.status) + " " + reason_phrase(response.status) + "\r\n";
  for (const auto& [name, value] : headers) text += name + ": " + value + "\r\n";
  text += "\r\n";
  text += response.body;
  return text;
}

}  // namespace

void HandoffServer::LateReply::Slot::send(const httplib::Response& response) {
  if (taken.exchange(true)) return;
  const std::string text = response_text(response, close, keep_alive);
  const ssize_t n = send_retrying(sock, text.data(), text.size(), MSG_DONTWAIT);
  if (n == ssize_t(text.size())) return finish(State::kSent);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return finish(State::kFailed);
  {
    std::lock_guard lock(mu);
    state = State::kSending;
  }
  // Rare (a reply larger than the socket's free buffer): the rest may wait
  // on the client, which neither the sender nor the connection's thread
  // (waiting for the next request) may do. The socket stays open until
  // finish(): the connection's thread settles before it closes.
  try {
    std::thread([self = shared_from_this(), rest = text.substr(n < 0 ? 0 : size_t(n))] {
      self->finish(send_all(self->sock, rest) ? State::kSent : State::kFailed);
    }).detach();
  } catch (const std::system_error&) {
    finish(State::kFailed);  // no thread to be had: the connection ends short
  }
}

void HandoffServer::LateReply::Slot::finish(State outcome) {
  {
    std::lock_guard lock(mu);
    state = outcome;
  }
  out.notify_all();
}

bool HandoffServer::LateReply::Slot::settle() {
  std::unique_lock lock(mu);
  out.wait(lock, [&] { return state == State::kSent || state == State::kFailed; });
  return state == State::kSent;
}

bool HandoffServer::LateReply::Slot::pending() {
  std::lock_guard lock(mu);
  return state == State::kWaiting || state == State::kSending;
}

HandoffServer::LateReply::LateReply(std::shared_ptr<Slot> slot) : slot_(std::move(slot)) {}

HandoffServer::LateReply::~LateReply() {
  if (slot_->taken) return;
  httplib::Response unanswered;
  unanswered.status = 500;
  unanswered.set_content("internal server error: the request was not answered", "text/plain");
  slot_->send(unanswered);
}

void HandoffServer::LateReply::send(const httplib::Response& response) { slot_->send(response); }

std::shared_ptr<HandoffServer::LateReply> HandoffServer::reply_later(
    const httplib::Request& request) {
  Connection* c = current_connection;
  // flush(): a late reply before this one, and a held "100 Continue", go
  // out first.
  if (!c || c->taken || c->replying_later || !c->stream->flush()) return nullptr;
  const bool close = c->requests_left == 1 || request.get_header_value("Connection") == "close";
  auto slot = std::make_shared<LateReply::Slot>(c->stream->socket(), close, c->keep_alive);
  c->stream->reply_later(slot);
  c->replying_later = true;
  return std::make_shared<LateReply>(std::move(slot));
}

bool HandoffServer::replying_later() {
  return current_connection && current_connection->replying_later;
}

int HandoffServer::take_connection() {
  Connection* c = current_connection;
  if (!c || c->taken || !c->stream->flush()) return -1;
  c->taken = true;
  // Now, not after the handler: the new owner may close the socket at once,
  // and its number be reused.
  ::epoll_ctl(c->epoll, EPOLL_CTL_DEL, c->stream->socket(), nullptr);
  return c->stream->socket();
}

class HandoffServer::Crew {
 public:
  Crew(HandoffServer& server, size_t max_connections);
  ~Crew();

  // Serves `sock` from now on. The first call supervises the crew until the
  // server stops and every connection is closed.
  void add(int sock);

  // On a runner's thread, while it serves a request: it is about to wait,
  // and a stand-in starts now. Elsewhere nothing.
  static void about_to_block();

 private:
  using Clock = std::chrono::steady_clock;

  struct Conn {
    Conn(uint64_t id, int sock, const HandoffServer& server, int epoll)
        : id(id),
          stream(sock, to_ms(server.read_timeout_sec_, server.read_timeout_usec_),
                 to_ms(server.write_timeout_sec_, server.write_timeout_usec_)),
          connection{&stream, epoll,
                     "timeout=" + std::to_string(server.keep_alive_timeout_sec_) +
                         ", max=" + std::to_string(server.keep_alive_max_count_),
                     server.keep_alive_max_count_} {}

    const uint64_t id;  // in the epoll set: never reused, unlike socket numbers
    SocketStream stream;
    Connection connection;
    Clock::time_point idle_since;
    bool serving = false;  // a runner has it (it is not in the epoll set)
  };

  struct Runner {
    std::optional<Clock::time_point> busy_since;  // serving since
    bool blocked = false;                         // counted out of active_
  };

  enum class Outcome { kKeep, kClose, kTaken };

  void run();
  void hand_over(Runner& self);  // about_to_block() for `self`
  // The connection's requests while they come in: at least one, and more
  // that are already buffered (pipelined).
  Outcome serve(Conn& conn);
  void supervise(std::unique_lock<std::mutex>& lock);
  bool start_runner_locked();
  // `runner` counts as blocked from now on, and stand-ins start.
  void count_blocked_locked(Runner& runner);
  // Starts runners until `target_` are not blocked.
  void staff_locked();
  // Waits for the runners to leave and closes every connection.
  void shut_down(std::unique_lock<std::mutex>& lock);
  // Closes the connections idle past the keep-alive timeout (all of them
  // when `all`).
  void close_idle(std::unique_lock<std::mutex>& lock, Clock::time_point now, bool all);
  void watch_locked(const Conn& conn, int op);
  // Serves waiting connections while there is room.
  void admit_locked();
  // Answers 503 and closes.
  void refuse(int sock);
  static void close(Conn& conn);

  // A runner busy this long on one request is taken to be blocked. Writes
  // waiting for their fsync say so at once (about_to_block()); this catches
  // the rest (a slow client, logs -f), and is long enough that the few
  // requests that take this long on the CPU (a large list) add a runner
  // only briefly.
  static constexpr std::chrono::milliseconds kBlockedAfter{1};
  // How often idle runners and the supervisor look for the server's stop,
  // and how often keep-alive timeouts are applied.
  static constexpr int kSliceMs = 100;
  static constexpr std::chrono::seconds kIdleRunnerTimeout{30};
  // Runners compete for the CPU with the watch fan-out's loops and the
  // reconciler, and the kernel shares it out per thread: with one runner
  // per core, requests got too small a share while 1,000 watches took the
  // cores (watch_bench p99 199 ms against 55 ms before the crew; with 8
  // runners 47 ms). Creates at 128 clients kept their gain with 8.
  static constexpr unsigned kRunnersPerCore = 4;

  HandoffServer& server_;
  const size_t max_connections_;
  const size_t target_;  // runners not blocked
  const int epoll_;
  std::mutex mu_;
  std::condition_variable supervisor_wake_;
  std::condition_variable runners_gone_;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;  // served, not taken over
  std::deque<int> waiting_;  // accepted, for room among conns_ (at most as many)
  uint64_t next_id_ = 1;
  std::vector<Runner*> runners_;
  size_t runner_threads_ = 0;  // started and not yet returned
  size_t active_ = 0;          // runners not blocked, and those starting
  bool supervised_ = false;
  bool supervisor_sleeping_ = false;
  std::atomic<bool> stopping_{false};  // read by runners between requests
  // The crew and runner of this thread, if it is a runner.
  static thread_local Crew* current_crew_;
  static thread_local Runner* current_runner_;
  // Where runners run: a runner that leaves (its stand-in took over) parks
  // there and is the next one started, rather than a thread being created
  // for each write that waits for its fsync. Last: gone before the rest.
  ConnectionPool threads_;
};

thread_local HandoffServer::Crew* HandoffServer::Crew::current_crew_ = nullptr;
thread_local HandoffServer::Crew::Runner* HandoffServer::Crew::current_runner_ = nullptr;

HandoffServer::Crew::Crew(HandoffServer& server, size_t max_connections)
    : server_(server),
      max_connections_(max_connections),
      target_(kRunnersPerCore * std::max(2u, std::thread::hardware_concurrency())),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      threads_(max_connections + target_, kIdleRunnerTimeout) {
  if (epoll_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

HandoffServer::Crew::~Crew() {
  std::unique_lock lock(mu_);
  shut_down(lock);
  lock.unlock();
  ::close(epoll_);
}

void HandoffServer::Crew::shut_down(std::unique_lock<std::mutex>& lock) {
  stopping_ = true;
  runners_gone_.wait(lock, [&] { return runner_threads_ == 0; });
  close_idle(lock, Clock::now(), true);
}

void HandoffServer::Crew::add(int sock) {
  std::unique_lock lock(mu_);
  if (stopping_ || waiting_.size() >= max_connections_) {
    lock.unlock();
    refuse(sock);
    return;
  }
  waiting_.push_back(sock);
  admit_locked();
  if (supervised_) return;
  supervised_ = true;
  supervise(lock);
}

void HandoffServer::Crew::admit_locked() {
  while (!waiting_.empty() && conns_.size() < max_connections_) {
    const uint64_t id = next_id_++;
    Conn& conn = *conns_.emplace(id, std::make_unique<Conn>(id, waiting_.front(), server_, epoll_))
                      .first->second;
    waiting_.pop_front();
    conn.idle_since = Clock::now();
    watch_locked(conn, EPOLL_CTL_ADD);
  }
}

void HandoffServer::Crew::refuse(int sock) {
  const std::string why =
      "too many connections: " + std::to_string(max_connections_) + " served and as many waiting\n";
  const std::string refusal =
      "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
      "Content-Type: text/plain\r\nContent-Length: " +
      std::to_string(why.size()) + "\r\n\r\n" + why;
  send_retrying(sock, refusal.data(), refusal.size(), MSG_DONTWAIT);
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
}

void HandoffServer::Crew::watch_locked(const Conn& conn, int op) {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLONESHOT;  // one runner at a time has the connection
  event.data.u64 = conn.id;
  ::epoll_ctl(epoll_, op, conn.stream.socket(), &event);
}

void HandoffServer::Crew::run() {
  Runner self;
  current_crew_ = this;
  current_runner_ = &self;
  std::unique_lock lock(mu_);
  runners_.push_back(&self);
  while (!stopping_) {
    lock.unlock();
    epoll_event ready{};
    int n;
    do {
      n = ::epoll_wait(epoll_, &ready, 1, kSliceMs);
    } while (n < 0 && errno == EINTR);
    lock.lock();
    if (n != 1 || stopping_) continue;
    const auto found = conns_.find(ready.data.u64);
    if (found == conns_.end()) continue;  // closed as idle meanwhile
    Conn& conn = *found->second;
    conn.serving = true;
    self.busy_since = Clock::now();
    if (supervisor_sleeping_) supervisor_wake_.notify_one();
    lock.unlock();

    Outcome outcome = serve(conn);
    if (outcome == Outcome::kKeep && stopping_) outcome = Outcome::kClose;
    if (outcome == Outcome::kClose) close(conn);

    lock.lock();
    self.busy_since.reset();
    if (outcome == Outcome::kKeep) {
      conn.serving = false;
      conn.idle_since = Clock::now();
      watch_locked(conn, EPOLL_CTL_MOD);
    } else {
      conns_.erase(conn.id);
      admit_locked();
    }
    if (self.blocked) {
      self.blocked = false;
      if (++active_ > target_) break;  // another took this one's place meanwhile
    }
  }
  --active_;
  runners_.erase(std::find(runners_.begin(), runners_.end(), &self));
  current_crew_ = nullptr;
  current_runner_ = nullptr;
  if (--runner_threads_ == 0) runners_gone_.notify_all();
}

void HandoffServer::Crew::hand_over(Runner& self) {
  std::lock_guard lock(mu_);
  if (!self.busy_since || self.blocked) return;
  count_blocked_locked(self);
  staff_locked();
}

void HandoffServer::Crew::count_blocked_locked(Runner& runner) {
  runner.blocked = true;
  --active_;
}

void HandoffServer::Crew::staff_locked() {
  while (active_ < target_ && start_runner_locked()) {
  }
}

void HandoffServer::Crew::about_to_block() {
  if (current_crew_) current_crew_->hand_over(*current_runner_);
}

void HandoffServer::about_to_block() { Crew::about_to_block(); }

HandoffServer::Crew::Outcome HandoffServer::Crew::serve(Conn& conn) {
  Connection& connection = conn.connection;
  current_connection = &connection;
  Outcome outcome = Outcome::kKeep;
  do {
    bool connection_closed = false;
    connection.replying_later = false;
    bool ok = server_.process_request(conn.stream, connection.requests_left == 1, connection_closed,
                                      nullptr);
    --connection.requests_left;
    if (connection.replying_later) {
      conn.stream.unmute();  // and on without waiting for the reply
    } else if (!connection.taken && !conn.stream.flush()) {
      ok = false;
    }
    if (connection.taken) {
      outcome = Outcome::kTaken;
    } else if (!ok || connection_closed || connection.requests_left == 0) {
      outcome = Outcome::kClose;
    }
  } while (outcome == Outcome::kKeep && conn.stream.buffered() > 0);
  current_connection = nullptr;
  return outcome;
}

void HandoffServer::Crew::close(Conn& conn) {
  conn.stream.settle();  // the socket lives until a late reply is out
  ::shutdown(conn.stream.socket(), SHUT_RDWR);
  ::close(conn.stream.socket());
}

bool HandoffServer::Crew::start_runner_locked() {
  try {
    threads_.enqueue([this] { run(); });
  } catch (const std::system_error&) {
    return false;  // no thread to be had now; the supervisor tries again
  }
  ++active_;
  ++runner_threads_;
  return true;
}

void HandoffServer::Crew::close_idle(std::unique_lock<std::mutex>& lock, Clock::time_point now,
                                     bool all) {
  const auto keep_alive = std::chrono::seconds(server_.keep_alive_timeout_sec_);
  std::vector<std::unique_ptr<Conn>> idle;
  for (auto it = conns_.begin(); it != conns_.end();) {
    Conn& conn = *it->second;
    // The client's idle time starts once it has its answer.
    if (!conn.serving && conn.stream.reply_pending()) conn.idle_since = now;
    // A request that came just now is served, not cut off: a client does
    // not retry a POST on a reset connection.
    char byte;
    if (conn.serving ||
        (!all && (now - conn.idle_since < keep_alive ||
                  ::recv(conn.stream.socket(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0))) {
      ++it;
      continue;
    }
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, conn.stream.socket(), nullptr);
    idle.push_back(std::move(it->second));
    it = conns_.erase(it);
  }
  std::deque<int> waiting;
  if (all) waiting.swap(waiting_);
  admit_locked();
  lock.unlock();
  for (auto& conn : idle) close(*conn);
  for (int sock : waiting) refuse(sock);
  lock.lock();
}

void HandoffServer::Crew::supervise(std::unique_lock<std::mutex>& lock) {
  auto swept = Clock::now();
  while (server_.svr_sock_ != INVALID_SOCKET) {
    // First, as it lets go of the lock: what runners do meanwhile is seen
    // below.
    if (Clock::now() - swept >= std::chrono::milliseconds(kSliceMs)) {
      swept = Clock::now();
      close_idle(lock, swept, false);
    }
    const auto now = Clock::now();
    bool watching = false;  // a runner that may yet turn out blocked
    for (Runner* runner : runners_) {
      if (!runner->busy_since || runner->blocked) continue;
      if (now - *runner->busy_since >= kBlockedAfter) {
        count_blocked_locked(*runner);
      } else {
        watching = true;
      }
    }
    staff_locked();
    if (watching) {
      supervisor_wake_.wait_for(lock, kBlockedAfter);
    } else {
      supervisor_sleeping_ = true;  // a runner that gets busy wakes it
      supervisor_wake_.wait_for(lock, std::chrono::milliseconds(kSliceMs));
      supervisor_sleeping_ = false;
    }
  }
  shut_down(lock);
  // Ready for the server to listen again.
  stopping_ = false;
  supervised_ = false;
}

HandoffServer::HandoffServer(size_t max_connections)
    : crew_(std::make_unique<Crew>(*this, max_connections)) {}

HandoffServer::~HandoffServer() = default;

bool HandoffServer::process_and_close_socket(socket_t sock) {
  crew_->add(sock);
  return true;
}

}  // namespace solti::api
