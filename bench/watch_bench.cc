// Watch fan-out against a real soltid: N concurrent watch connections, then
// E creates at a fixed rate; every watcher must receive every event in
// order. Reports the time to open the watches, delivery latency (from just
// before the create is sent to the event's arrival) and soltid's threads and
// memory. Not part of the test suite.
//
//   watch_bench --soltid build/cmd/soltid [--watchers 1000] [--events 10000] [--rate 1000]
//               [--writers 16] [--readers 2]
#include <fcntl.h>
#include <httplib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

#include "bench/bench_util.h"
#include "model/object_meta.h"
#include "tests/raw_socket.h"

using bench::Clock;
using bench::percentile;
using bench::proc_status;

namespace {

// The number after the first `marker` in the first `window` bytes of `line`.
// memmem, not string_view::find: find compares at every quote, and a
// million event lines a second are mostly quotes.
std::optional<int64_t> field_after(std::string_view line, std::string_view marker,
                                   size_t window = 1024) {
  const size_t span = std::min(line.size(), window);
  const void* hit = memmem(line.data(), span, marker.data(), marker.size());
  if (!hit) return std::nullopt;
  size_t end = size_t(static_cast<const char*>(hit) - line.data()) + marker.size();
  int64_t value = 0;
  bool any = false;
  for (; end < line.size() && std::isdigit(static_cast<unsigned char>(line[end])); ++end) {
    value = value * 10 + (line[end] - '0');
    any = true;
  }
  return any ? std::optional<int64_t>(value) : std::nullopt;
}

// One watch connection, read by an epoll thread: a thousand client threads
// on the same two cores took a third of the CPU from the server measured
// (perf: context switches and reads), so the watchers are a few threads
// that each read many sockets, as an informer-based controller fleet would.
struct Watch {
  int fd = -1;
  // Raw HTTP/1.1: the response head, then the chunked body. Bytes are
  // parsed where recv() put them; only what spans two reads is copied.
  std::string in;  // unparsed bytes left by the last read
  bool head_done = false;
  size_t chunk_left = 0;
  bool expect_size = true;
  std::string line;  // the start of a line the last read cut
  int64_t last_version = -1;
  size_t received = 0, out_of_order = 0;
  std::vector<double> latency;
  std::string error;
  std::atomic<bool> done{false};
};

int open_watch(int port, const std::string& path) {
  const int fd = solti::testing::connect_to(port);
  if (fd < 0) return -1;
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, request.data(), request.size(), 0) != ssize_t(request.size())) {
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Counts an ADDED event of a bench Task.
void take_line(Watch& w, std::string_view line, const std::vector<std::atomic<int64_t>>& sent,
               int64_t now) {
  // Only ADDED events of our creates count; fields are read from the text,
  // so that the watchers' own JSON decoding takes little of the CPU.
  if (!line.starts_with(R"({"type":"ADDED")")) return;
  const auto name = field_after(line, R"("name":"t-)");
  const auto rv = field_after(line, R"("resourceVersion":")");
  if (!name || !rv || size_t(*name) >= sent.size()) return;
  // In order means in resourceVersion order: with several writers,
  // creates commit in any order of their names.
  if (*rv <= w.last_version) ++w.out_of_order;
  w.last_version = *rv;
  w.latency.push_back(double(now - sent[size_t(*name)].load()) / 1e6);
  ++w.received;
}

// Splits a piece of the body into lines.
void take_body(Watch& w, std::string_view body, const std::vector<std::atomic<int64_t>>& sent,
               int64_t now) {
  for (size_t nl; (nl = body.find('\n')) != std::string_view::npos; body.remove_prefix(nl + 1)) {
    if (w.line.empty()) {
      take_line(w, body.substr(0, nl), sent, now);
    } else {
      w.line.append(body.substr(0, nl));
      take_line(w, w.line, sent, now);
      w.line.clear();
    }
  }
  w.line.append(body);
}

// Takes what recv() returned apart: the head, chunk sizes and chunk data;
// false once the stream is broken.
bool take_bytes(Watch& w, std::string_view data, const std::vector<std::atomic<int64_t>>& sent,
                int64_t now) {
  std::string joined;
  if (!w.in.empty()) {
    joined = std::move(w.in) + std::string(data);
    w.in.clear();
    data = joined;
  }
  if (!w.head_done) {
    const size_t end = data.find("\r\n\r\n");
    if (end == std::string::npos) {
      w.in = data;
      return true;
    }
    if (!data.starts_with("HTTP/1.1 200")) {
      w.error = data.substr(0, data.find("\r\n"));
      return false;
    }
    data.remove_prefix(end + 4);
    w.head_done = true;
  }
  while (!data.empty()) {
    if (w.expect_size) {
      const size_t eol = data.find("\r\n");
      if (eol == std::string::npos) break;
      w.chunk_left = std::stoul(std::string(data.substr(0, eol)), nullptr, 16);
      if (w.chunk_left == 0) {
        w.error = "the server ended the watch";
        return false;
      }
      data.remove_prefix(eol + 2);
      w.expect_size = false;
    } else if (w.chunk_left > 0) {
      const size_t take = std::min(w.chunk_left, data.size());
      take_body(w, data.substr(0, take), sent, now);
      w.chunk_left -= take;
      data.remove_prefix(take);
    } else {
      if (data.size() < 2) break;
      data.remove_prefix(2);  // the CRLF after the chunk's data
      w.expect_size = true;
    }
  }
  w.in = data;
  return true;
}

void read_watches(std::vector<Watch*> watches, const std::vector<std::atomic<int64_t>>& sent,
                  size_t events, const std::atomic<bool>& stop) {
  const int poller = epoll_create1(EPOLL_CLOEXEC);
  for (Watch* w : watches) {
    epoll_event interest{};
    interest.events = EPOLLIN;
    interest.data.ptr = w;
    epoll_ctl(poller, EPOLL_CTL_ADD, w->fd, &interest);
  }
  size_t open = watches.size();
  std::vector<epoll_event> ready(256);
  char buffer[1 << 16];
  while (open > 0 && !stop) {
    const int n = epoll_wait(poller, ready.data(), int(ready.size()), 100);
    const int64_t now = Clock::now().time_since_epoch().count();
    for (int i = 0; i < n; ++i) {
      auto* w = static_cast<Watch*>(ready[size_t(i)].data.ptr);
      bool alive = true;
      while (alive) {
        const ssize_t got = recv(w->fd, buffer, sizeof buffer, 0);
        if (got > 0) {
          alive = take_bytes(*w, std::string_view(buffer, size_t(got)), sent, now);
          continue;
        }
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (w->error.empty()) w->error = got == 0 ? "closed by the server" : std::strerror(errno);
        alive = false;
      }
      if (!alive || w->received >= events) {
        w->done = true;
        epoll_ctl(poller, EPOLL_CTL_DEL, w->fd, nullptr);
        close(w->fd);
        --open;
      }
    }
  }
  for (Watch* w : watches)
    if (!w->done) close(w->fd);
  close(poller);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"watch_bench: watch fan-out of soltid"};
  std::string soltid_path;
  size_t watchers = 1000, events = 10000;
  double rate = 1000;
  app.add_option("--soltid", soltid_path, "Path of the soltid binary")->required();
  app.add_option("--watchers", watchers, "Concurrent watch connections");
  app.add_option("--events", events, "Tasks created while they watch");
  app.add_option("--rate", rate, "Creates per second");
  size_t writers = 16, readers = 2;
  app.add_option("--writers", writers, "Connections creating the Tasks");
  app.add_option("--readers", readers, "Threads reading the watch connections (epoll)");
  std::vector<std::string> soltid_flags;
  app.add_option("--soltid-flag", soltid_flags, "Extra soltid flag (repeatable)");
  CLI11_PARSE(app, argc, argv);

  // API-only, as the README says: with the reconciler each create would be
  // followed by four more events (finalizer, Running, TaskRun, Succeeded)
  // and the processes that make them.
  soltid_flags.insert(soltid_flags.begin(), {"--no-reconciler", "--max-connections",
                                             std::to_string(watchers + writers + 64)});
  bench::Soltid soltid(soltid_path, soltid_flags);
  soltid.start();
  const std::string base = "/apis/solti.io/v1/namespaces/bench/tasks";

  // Send times by task index, filled by the writer before each create.
  std::vector<std::atomic<int64_t>> sent(events);
  auto open_start = Clock::now();
  std::vector<Watch> watches(watchers);
  for (auto& watch : watches) {
    watch.latency.reserve(events);  // growing it copied and faulted in pages
    watch.fd = open_watch(soltid.port(), base + "?watch=true&resourceVersion=0&timeoutSeconds=300");
    if (watch.fd < 0) {
      std::fprintf(stderr, "cannot open a watch connection: %s\n", std::strerror(errno));
      return 1;
    }
  }
  std::atomic<bool> stop_reading{false};
  std::vector<std::thread> threads;
  for (size_t r = 0; r < readers; ++r) {
    std::vector<Watch*> mine;
    for (size_t w = r; w < watchers; w += readers) mine.push_back(&watches[w]);
    threads.emplace_back(read_watches, std::move(mine), std::cref(sent), events,
                         std::cref(stop_reading));
  }
  // All watches are open once the server's gauge says so.
  httplib::Client control("127.0.0.1", soltid.port());
  std::string needle = "solti_apiserver_watchers " + std::to_string(watchers);
  const auto open_deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < open_deadline) {
    auto r = control.Get("/metrics");
    if (r && r->body.find(needle) != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double open_seconds = std::chrono::duration<double>(Clock::now() - open_start).count();
  const std::string threads_open = proc_status(soltid.pid(), "Threads");

  // `writers` connections create the Tasks on a fixed schedule, event i
  // at write_start + i/rate, so that one slow create does not delay the rest.
  auto write_start = Clock::now() + std::chrono::milliseconds(100);
  std::atomic<size_t> create_failures{0};
  std::vector<std::thread> writer_threads;
  for (size_t k = 0; k < writers; ++k) {
    writer_threads.emplace_back([&, k] {
      httplib::Client client("127.0.0.1", soltid.port());
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      for (size_t i = k; i < events; i += writers) {
        std::this_thread::sleep_until(write_start +
                                      std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(double(i) / rate)));
        std::string name = "t-" + std::to_string(i);
        sent[i] = Clock::now().time_since_epoch().count();
        auto r =
            client.Post(base,
                        R"({"apiVersion":"solti.io/v1","kind":"Task","metadata":{"name":")" + name +
                            R"("},"spec":{"timeout":"5s","subprocess":{"command":"/bin/true"}}})",
                        "application/json");
        if (!r || r->status != 201) ++create_failures;
      }
    });
  }
  for (auto& t : writer_threads) t.join();
  const double write_seconds = std::chrono::duration<double>(Clock::now() - write_start).count();
  if (create_failures > 0) {
    std::fprintf(stderr, "%zu creates failed\n", create_failures.load());
    return 1;
  }
  auto finished = [&] {
    return size_t(std::count_if(watches.begin(), watches.end(),
                                [&](const Watch& w) { return w.done.load(); }));
  };
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (finished() < watchers && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const std::string rss = proc_status(soltid.pid(), "VmRSS");
  stop_reading = true;
  for (auto& t : threads) t.join();
  soltid.stop();

  std::vector<double> all;
  size_t total = 0, disorder = 0, complete = 0;
  std::map<std::string, size_t> ended_early;  // why watches ended before the last event
  for (auto& w : watches) {
    all.insert(all.end(), w.latency.begin(), w.latency.end());
    total += w.received;
    disorder += w.out_of_order;
    complete += w.received == events;
    if (w.received < events) ++ended_early[w.error.empty() ? "still open at the end" : w.error];
  }
  std::printf(
      "| watchers | events | rate /s (achieved) | delivered | watchers complete | out of order "
      "| open all (s) | p50 ms | p99 ms | max ms | soltid threads | soltid RSS |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::printf(
      "| %zu | %zu | %.0f (%.0f) | %zu / %zu | %zu | %zu | %.2f | %.1f | %.1f | %.1f | %s | %s |\n",
      watchers, events, rate, double(events) / write_seconds, total, watchers * events, complete,
      disorder, open_seconds, percentile(all, 0.5), percentile(all, 0.99), percentile(all, 1.0),
      threads_open.c_str(), rss.c_str());
  for (const auto& [why, count] : ended_early)
    std::printf("ended early: %zu x %s\n", count, why.c_str());
  std::fflush(stdout);
  std::_Exit(complete == watchers && disorder == 0 ? 0 : 1);
}
