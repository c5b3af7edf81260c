// Retry backoff and jitter (DESIGN §5) as pure functions of their inputs and
// an injectable random source, so that tests can pin every draw.
//
//   base(k) = min(max, first * factor^k)      (non-finite -> max), whole ms
//   None          base
//   Full          U[0, base]
//   Equal         h + U[0, h],  h = floor(base / 2)
//   Decorrelated  U[lo, hi],    lo = min(first, max), hi = max(min(3 * base, max), lo)
//
// k is the number of consecutive failures before this one (0 for the first
// retry); a success resets it.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace solti {

enum class JitterPolicy { kNone, kFull, kEqual, kDecorrelated };

struct BackoffParams {
  std::chrono::milliseconds first{1000};
  std::chrono::milliseconds max{30000};
  double factor = 2.0;
  JitterPolicy jitter = JitterPolicy::kFull;
};

// Source of uniform integers in [lo, hi] (inclusive). Not thread-safe.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual uint64_t uniform(uint64_t lo, uint64_t hi) = 0;
};

// mt19937_64-backed source; seeded from std::random_device unless given a
// seed. Thread-safe: the reconcile workers and the housekeeping loop share one.
class DefaultRandomSource final : public RandomSource {
 public:
  DefaultRandomSource();
  explicit DefaultRandomSource(uint64_t seed) : engine_(seed) {}
  uint64_t uniform(uint64_t lo, uint64_t hi) override;

 private:
  std::mutex mu_;
  std::mt19937_64 engine_;
};

std::chrono::milliseconds backoff_base(const BackoffParams& params, uint32_t k);
std::chrono::milliseconds apply_jitter(const BackoffParams& params, std::chrono::milliseconds base,
                                       RandomSource& random);
// apply_jitter(params, backoff_base(params, k), random)
std::chrono::milliseconds backoff_delay(const BackoffParams& params, uint32_t k,
                                        RandomSource& random);

}  // namespace solti
