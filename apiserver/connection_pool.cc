#include "apiserver/connection_pool.h"

#include <algorithm>
#include <thread>

namespace solti::api {

ConnectionPool::ConnectionPool(size_t max_threads, std::chrono::milliseconds idle_timeout)
    : max_threads_(std::max<size_t>(max_threads, 1)), idle_timeout_(idle_timeout) {}

ConnectionPool::~ConnectionPool() { shutdown(); }

void ConnectionPool::enqueue(std::function<void()> job) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  if (!idle_.empty()) {
    Idle* idle = idle_.back();
    idle_.pop_back();
    idle->job = std::move(job);
    idle->wake.notify_one();
    return;
  }
  if (threads_ < max_threads_) {
    ++threads_;
    // Detached: a thread leaving after its idle timeout has nobody to join
    // it; shutdown() waits for the count to reach zero instead.
    std::thread([this, job = std::move(job)]() mutable { work(std::move(job)); }).detach();
    return;
  }
  queued_.push_back(std::move(job));
}

void ConnectionPool::work(std::function<void()> job) {
  Idle self;
  std::unique_lock lock(mu_);
  while (true) {
    if (job) {
      lock.unlock();
      job();
      job = nullptr;  // its captures (the connection) go now, not at the next job
      lock.lock();
    }
    if (!queued_.empty()) {
      job = std::move(queued_.front());
      queued_.pop_front();
      continue;
    }
    if (stopping_) break;
    idle_.push_back(&self);
    const bool woken =
        self.wake.wait_for(lock, idle_timeout_, [&] { return self.job || stopping_; });
    if (self.job) {
      job = std::move(self.job);  // enqueue() took us off the idle list
      continue;
    }
    idle_.erase(std::find(idle_.begin(), idle_.end(), &self));
    if (!woken) break;  // idle too long
  }
  if (--threads_ == 0) all_exited_.notify_all();
}

void ConnectionPool::shutdown() {
  std::unique_lock lock(mu_);
  stopping_ = true;
  for (Idle* idle : idle_) idle->wake.notify_one();
  all_exited_.wait(lock, [&] { return threads_ == 0; });
}

size_t ConnectionPool::threads() const {
  std::lock_guard lock(mu_);
  return threads_;
}

size_t ConnectionPool::idle_threads() const {
  std::lock_guard lock(mu_);
  return idle_.size();
}

}  // namespace solti::api
