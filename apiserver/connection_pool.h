// The threads that run cpp-httplib's jobs: for a TLS server each kept-alive
// connection, on one thread from accept to close (plain-HTTP connections
// are served by HandoffServer's crew instead).
//
// cpp-httplib's own pool starts all of its threads up front and hands each
// job to an arbitrary waiting one. With room for 2,048 connections that is
// 2,048 stacks from the start, and over hours every one of them gets used
// in turn and keeps its own malloc cache: the soak saw RSS grow by a third
// with a steady load of a few dozen connections. This pool starts a thread
// only when no idle one is there, gives each job to the most recently idle
// thread (so the same few stay warm), and lets a thread that has been idle
// for `idle_timeout` exit, which returns its memory.
//
// Thread-safe. shutdown() runs the jobs already queued, then waits for every
// thread; jobs enqueued after it are dropped (their sockets are closed by
// the caller's destructors).
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

namespace solti::api {

class ConnectionPool final : public httplib::TaskQueue {
 public:
  ConnectionPool(size_t max_threads, std::chrono::milliseconds idle_timeout);
  ~ConnectionPool() override;  // shuts down when the owner did not

  void enqueue(std::function<void()> job) override;
  void shutdown() override;

  // Threads alive now (serving or idle), and those of them idle.
  size_t threads() const;
  size_t idle_threads() const;

 private:
  struct Idle {
    std::condition_variable wake;
    std::function<void()> job;
  };
  void work(std::function<void()> job);

  const size_t max_threads_;
  const std::chrono::milliseconds idle_timeout_;
  mutable std::mutex mu_;
  std::condition_variable all_exited_;
  std::deque<std::function<void()>> queued_;  // waiting for a thread
  std::vector<Idle*> idle_;                   // most recently idle last
  size_t threads_ = 0;
  bool stopping_ = false;
};

}  // namespace solti::api
