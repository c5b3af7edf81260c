// The reconciler's work queue (client-go's rate-limited work queue):
//  - de-duplicating: a key queued twice is handled once;
//  - a key added while it is being handled is handled again after done();
//  - delayed adds, and rate-limited adds whose delay is the larger of the
//    key's exponential backoff (base·2^(failures-1), capped) and a global
//    token bucket's wait; forget() resets the key's backoff.
// Time comes from the injected Clock and nothing blocks: take() returns the
// next ready key or nothing, and next_deadline() tells the event loop when
// to look again. Thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
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

  explicit WorkQueue(Clock& clock) : WorkQueue(clock, RateLimits{}) {}
  WorkQueue(Clock& clock, RateLimits limits);

  void add(const std::string& key);
  void add_after(const std::string& key, std::chrono::milliseconds delay);
  void add_rate_limited(const std::string& key);
  void forget(const std::string& key);
  int failures(const std::string& key) const;

  // The next ready key, now marked in flight; nothing when no key is ready.
  std::optional<std::string> take();
  void done(const std::string& key);
  // When the earliest delayed key becomes ready, if any is waiting.
  std::optional<TimePoint> next_deadline() const;
  // Keys ready or waiting, in flight excluded.
  size_t size() const;

 private:
  void add_locked(const std::string& key);
  void promote_locked(TimePoint now);
  std::chrono::milliseconds bucket_delay_locked(TimePoint now);

  Clock& clock_;
  const RateLimits limits_;
  mutable std::mutex mu_;
  std::deque<std::string> ready_;
  std::set<std::string> dirty_;  // needs handling (queued or to be re-queued)
  std::set<std::string> in_flight_;
  std::multimap<TimePoint, std::string> waiting_;
  std::map<std::string, TimePoint> waiting_at_;  // earliest wait per key
  std::map<std::string, int> failures_;
  double tokens_;
  TimePoint bucket_time_;
};

}  // namespace solti::reconciler
