#include "model/clock.h"

namespace solti {
namespace {

class SystemClock final : public Clock {
 public:
  Timestamp now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::now();
  }
};

}  // namespace

Clock& system_clock() {
  static SystemClock clock;
  return clock;
}

FakeClock::FakeClock(Timestamp start) : wall_(start), steady_() {}

Timestamp FakeClock::now() const {
  std::lock_guard lock(mu_);
  return wall_;
}

std::chrono::steady_clock::time_point FakeClock::steady_now() const {
  std::lock_guard lock(mu_);
  return steady_;
}

void FakeClock::advance(std::chrono::milliseconds delta) {
  std::lock_guard lock(mu_);
  wall_ += delta;
  steady_ += delta;
}

}  // namespace solti
