// Time as a dependency (LevelDB's Env idea, for time only): everything that
// reads the time for TTLs, retention, backoff or timeouts takes a Clock, so
// tests advance a FakeClock instead of sleeping.
#pragma once

#include <chrono>
#include <mutex>

#include "model/timestamp.h"

namespace solti {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time, for timestamps written into objects.
  virtual Timestamp now() const = 0;
  // Monotonic time, for intervals and deadlines.
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

// The real clocks. Thread-safe; lives for the whole program.
Clock& system_clock();

// A clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(Timestamp start = Timestamp(std::chrono::milliseconds(1767225600000)));

  Timestamp now() const override;
  std::chrono::steady_clock::time_point steady_now() const override;
  void advance(std::chrono::milliseconds delta);

 private:
  mutable std::mutex mu_;
  Timestamp wall_;
  std::chrono::steady_clock::time_point steady_;
};

}  // namespace solti
