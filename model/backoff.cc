#include "model/backoff.h"

#include <algorithm>
#include <cmath>

namespace solti {

DefaultRandomSource::DefaultRandomSource() : engine_(std::random_device{}()) {}

uint64_t DefaultRandomSource::uniform(uint64_t lo, uint64_t hi) {
  if (lo >= hi) return lo;
  std::lock_guard lock(mu_);
  return std::uniform_int_distribution<uint64_t>(lo, hi)(engine_);
}

std::chrono::milliseconds backoff_base(const BackoffParams& params, uint32_t k) {
  const double first = static_cast<double>(params.first.count());
  const double max = static_cast<double>(params.max.count());
  const double raw = first * std::pow(params.factor, static_cast<double>(k));
  if (!std::isfinite(raw) || raw < 0 || raw > max) return params.max;
  return std::chrono::milliseconds(static_cast<int64_t>(std::floor(raw)));
}

std::chrono::milliseconds apply_jitter(const BackoffParams& params, std::chrono::milliseconds base,
                                       RandomSource& random) {
  const auto b = static_cast<uint64_t>(std::max<int64_t>(base.count(), 0));
  switch (params.jitter) {
    case JitterPolicy::kNone:
      return std::chrono::milliseconds(b);
    case JitterPolicy::kFull:
      return std::chrono::milliseconds(b == 0 ? 0 : random.uniform(0, b));
    case JitterPolicy::kEqual: {
      const uint64_t h = b / 2;
      return std::chrono::milliseconds(h + (h == 0 ? 0 : random.uniform(0, h)));
    }
    case JitterPolicy::kDecorrelated: {
      const auto first = static_cast<uint64_t>(std::max<int64_t>(params.first.count(), 0));
      const auto max = static_cast<uint64_t>(std::max<int64_t>(params.max.count(), 0));
      const uint64_t lo = std::min(first, max);
      // 3 * b cannot overflow in practice (b <= max <= int64), but saturate anyway.
      const uint64_t triple = b > UINT64_MAX / 3 ? UINT64_MAX : 3 * b;
      const uint64_t hi = std::max(std::min(triple, max), lo);
      return std::chrono::milliseconds(lo >= hi ? lo : random.uniform(lo, hi));
    }
  }
  return std::chrono::milliseconds(b);
}

std::chrono::milliseconds backoff_delay(const BackoffParams& params, uint32_t k,
                                        RandomSource& random) {
  return apply_jitter(params, backoff_base(params, k), random);
}

}  // namespace solti
