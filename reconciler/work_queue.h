// The reconciler's work queue (client-go's rate-limited work queue):
//  - de-duplicating: a key queued twice is handled once;
//  - a key added while it is being handled is handled again after done();
//  - two priorities: a kHigh key is taken before every kNormal one (in the
//    order added within each), and a queued key added again with kHigh
//    moves ahead; a key keeps the highest priority it was added with until
//    it is taken (controller-runtime's priority queue, so that the
//    reconciler finishes work it holds resources for before it takes on a
//    burst of new keys);
//  - delayed adds, and rate-limited adds whose delay is the larger of the
//    key's exponential backoff (base·2^(failures-1), capped) and a global
//    token bucket's wait; forget() resets the key's backoff.
// Time comes from the injected Clock. take() returns the next ready key or
// nothing at once (tests drive it with a FakeClock); wait_and_take() blocks
// a reconcile worker until a key is ready, waiting for delayed keys in real
// time (so only with a Clock that follows the steady clock). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "model/clock.h"

namespace solti::reconciler {

class WorkQueue {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  struct RateLimits {
    std::chrono::milliseconds base{5};
    std::chrono::milliseconds max{std::chrono::seconds(1000)};
    double qps = 50;     // global token bucket: sustained rate
    size_t burst = 100;  // and its depth
  };

  enum class Priority { kHigh, kNormal };  // in the order they are taken

  explicit WorkQueue(Clock& clock) : WorkQueue(clock, RateLimits{}) {}
  WorkQueue(Clock& clock, RateLimits limits);

  void add(const std::string& key, Priority priority = Priority::kNormal);
  void add_after(const std::string& key, std::chrono::milliseconds delay);
  void add_rate_limited(const std::string& key);
  void forget(const std::string& key);
  int failures(const std::string& key) const;

  // The next ready key, now marked in flight; nothing when no key is ready.
  std::optional<std::string> take();
  // As take(), but waits for a key; nothing once shut_down() was called.
  std::optional<std::string> wait_and_take();
  // Wakes every wait_and_take() for good.
  void shut_down();
  void done(const std::string& key);
  // Where an in-flight key came in the order of takes (1, 2, ... with no
  // gaps); 0 when the key is not in flight.
  uint64_t take_order(const std::string& key) const;
  // When the earliest delayed key becomes ready, if any is waiting.
  std::optional<TimePoint> next_deadline() const;
  // Keys ready or waiting, in flight excluded.
  size_t size() const;

 private:
  void add_locked(const std::string& key, Priority priority);
  void enqueue_locked(const std::string& key, Priority priority);
  void promote_locked(TimePoint now);
  std::string take_locked();
  std::chrono::milliseconds bucket_delay_locked(TimePoint now);

  Clock& clock_;
  const RateLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable changed_;  // a key became ready, or the earliest wait moved
  bool shut_down_ = false;
  // Ready keys by (priority, order added); ready_at_ is the reverse index.
  using Place = std::pair<Priority, uint64_t>;
  std::map<Place, std::string> ready_;
  std::map<std::string, Place> ready_at_;
  uint64_t added_ = 0;
  // Needs handling (queued or to be re-queued), with the priority asked.
  std::map<std::string, Priority> dirty_;
  std::map<std::string, uint64_t> in_flight_;  // key → its take_order()
  uint64_t taken_ = 0;
  std::multimap<TimePoint, std::string> waiting_;
  std::map<std::string, TimePoint> waiting_at_;  // earliest wait per key
  std::map<std::string, int> failures_;
  double tokens_;
  TimePoint bucket_time_;
};

}  // namespace solti::reconciler
