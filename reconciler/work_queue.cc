#include "reconciler/work_queue.h"

#include <algorithm>
#include <cmath>

namespace solti::reconciler {

WorkQueue::WorkQueue(Clock& clock, RateLimits limits)
    : clock_(clock),
      limits_(limits),
      tokens_(double(limits.burst)),
      bucket_time_(clock.steady_now()) {}

void WorkQueue::add(const std::string& key, Priority priority) {
  std::lock_guard lock(mu_);
  add_locked(key, priority);
}

void WorkQueue::add_locked(const std::string& key, Priority priority) {
  auto [dirty, added] = dirty_.try_emplace(key, priority);
  if (!added) {  // already queued or waiting to be re-queued
    if (priority >= dirty->second) return;
    dirty->second = priority;
    auto queued = ready_at_.find(key);
    if (queued == ready_at_.end()) return;  // in flight: done() re-queues it
    ready_.erase(queued->second);
    ready_at_.erase(queued);
    enqueue_locked(key, priority);
    return;
  }
  if (in_flight_.count(key)) return;  // done() re-queues it
  enqueue_locked(key, priority);
  changed_.notify_one();
}

void WorkQueue::enqueue_locked(const std::string& key, Priority priority) {
  const Place place{priority, added_++};
  ready_.emplace(place, key);
  ready_at_.emplace(key, place);
}

void WorkQueue::add_after(const std::string& key, std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  if (delay.count() <= 0) return add_locked(key, Priority::kNormal);
  const TimePoint at = clock_.steady_now() + delay;
  auto existing = waiting_at_.find(key);
  if (existing != waiting_at_.end()) {
    if (existing->second <= at) return;  // an earlier wait already covers it
    auto range = waiting_.equal_range(existing->second);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == key) {
        waiting_.erase(it);
        break;
      }
    }
  }
  waiting_.emplace(at, key);
  waiting_at_[key] = at;
  if (waiting_.begin()->first == at) changed_.notify_one();
}

std::chrono::milliseconds WorkQueue::bucket_delay_locked(TimePoint now) {
  const double elapsed = std::chrono::duration<double>(now - bucket_time_).count();
  tokens_ = std::min(double(limits_.burst), tokens_ + elapsed * limits_.qps);
  bucket_time_ = now;
  tokens_ -= 1;  // reserve a token, possibly in the future
  if (tokens_ >= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(int64_t(std::ceil(-tokens_ / limits_.qps * 1000)));
}

void WorkQueue::add_rate_limited(const std::string& key) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(mu_);
    const int n = ++failures_[key];
    const double exponential = double(limits_.base.count()) * std::pow(2.0, n - 1);
    const auto backoff = exponential >= double(limits_.max.count())
                             ? limits_.max
                             : std::chrono::milliseconds(int64_t(exponential));
    delay = std::max(backoff, bucket_delay_locked(clock_.steady_now()));
  }
  add_after(key, delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

int WorkQueue::failures(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::promote_locked(TimePoint now) {
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    std::string key = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    waiting_at_.erase(key);
    add_locked(key, Priority::kNormal);
  }
}

std::string WorkQueue::take_locked() {
  std::string key = std::move(ready_.begin()->second);
  ready_.erase(ready_.begin());
  ready_at_.erase(key);
  dirty_.erase(key);
  in_flight_.emplace(key, ++taken_);
  return key;
}

std::optional<std::string> WorkQueue::take() {
  std::lock_guard lock(mu_);
  promote_locked(clock_.steady_now());
  if (ready_.empty()) return std::nullopt;
  return take_locked();
}

std::optional<std::string> WorkQueue::wait_and_take() {
  std::unique_lock lock(mu_);
  while (!shut_down_) {
    const TimePoint now = clock_.steady_now();
    promote_locked(now);
    if (!ready_.empty()) return take_locked();
    if (waiting_.empty()) {
      changed_.wait(lock);
    } else {
      changed_.wait_for(lock, waiting_.begin()->first - now);
    }
  }
  return std::nullopt;
}

void WorkQueue::shut_down() {
  std::lock_guard lock(mu_);
  shut_down_ = true;
  changed_.notify_all();
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  in_flight_.erase(key);
  auto dirty = dirty_.find(key);
  if (dirty != dirty_.end()) {
    enqueue_locked(key, dirty->second);
    changed_.notify_one();
  }
}

uint64_t WorkQueue::take_order(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = in_flight_.find(key);
  return it == in_flight_.end() ? 0 : it->second;
}

std::optional<WorkQueue::TimePoint> WorkQueue::next_deadline() const {
  std::lock_guard lock(mu_);
  if (waiting_.empty()) return std::nullopt;
  return waiting_.begin()->first;
}

size_t WorkQueue::size() const {
  std::lock_guard lock(mu_);
  return ready_.size() + waiting_.size();
}

}  // namespace solti::reconciler
