#include "model/backoff.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "model/env.h"

namespace solti {
namespace {

using std::chrono::milliseconds;

// Records every draw and answers with a fixed end of the range.
class PinnedRandom final : public RandomSource {
 public:
  enum class End { kLow, kHigh };
  explicit PinnedRandom(End end) : end_(end) {}
  uint64_t uniform(uint64_t lo, uint64_t hi) override {
    calls.emplace_back(lo, hi);
    return end_ == End::kLow ? lo : hi;
  }
  std::vector<std::pair<uint64_t, uint64_t>> calls;

 private:
  End end_;
};

BackoffParams params(int64_t first, int64_t max, double factor, JitterPolicy jitter) {
  return {milliseconds(first), milliseconds(max), factor, jitter};
}

TEST(BackoffTest, BaseGrowsGeometricallyAndSaturatesAtMax) {
  auto p = params(1000, 30000, 2.0, JitterPolicy::kNone);
  std::vector<int64_t> expected = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
  for (uint32_t k = 0; k < expected.size(); ++k) {
    EXPECT_EQ(backoff_base(p, k).count(), expected[k]) << "k=" << k;
  }
}

TEST(BackoffTest, FactorOneIsConstant) {
  auto p = params(700, 30000, 1.0, JitterPolicy::kNone);
  for (uint32_t k : {0u, 1u, 10u, 1000u, std::numeric_limits<uint32_t>::max()}) {
    EXPECT_EQ(backoff_base(p, k).count(), 700) << "k=" << k;
  }
}

TEST(BackoffTest, HugeExponentsSaturateInsteadOfOverflowing) {
  auto p = params(1000, 30000, 2.0, JitterPolicy::kNone);
  EXPECT_EQ(backoff_base(p, 1023).count(), 30000);  // finite but > max
  EXPECT_EQ(backoff_base(p, 1100).count(), 30000);  // pow overflows to inf
  EXPECT_EQ(backoff_base(p, std::numeric_limits<uint32_t>::max()).count(), 30000);
  auto steep = params(1, 30000, 1e308, JitterPolicy::kNone);
  EXPECT_EQ(backoff_base(steep, 2).count(), 30000);
}

TEST(BackoffTest, FractionalBasesRoundDown) {
  auto p = params(1000, 30000, 1.5, JitterPolicy::kNone);
  EXPECT_EQ(backoff_base(p, 1).count(), 1500);
  EXPECT_EQ(backoff_base(p, 2).count(), 2250);
  EXPECT_EQ(backoff_base(p, 3).count(), 3375);
  EXPECT_EQ(backoff_base(p, 4).count(), 5062);  // 5062.5
}

TEST(BackoffTest, NoneIsTheBaseWithoutDrawing) {
  PinnedRandom random(PinnedRandom::End::kHigh);
  auto p = params(1000, 30000, 2.0, JitterPolicy::kNone);
  EXPECT_EQ(backoff_delay(p, 2, random).count(), 4000);
  EXPECT_TRUE(random.calls.empty());
}

TEST(BackoffTest, FullDrawsFromZeroToBase) {
  auto p = params(1000, 30000, 2.0, JitterPolicy::kFull);
  PinnedRandom low(PinnedRandom::End::kLow), high(PinnedRandom::End::kHigh);
  EXPECT_EQ(backoff_delay(p, 2, low).count(), 0);
  EXPECT_EQ(backoff_delay(p, 2, high).count(), 4000);
  ASSERT_EQ(high.calls.size(), 1u);
  EXPECT_EQ(high.calls[0], std::make_pair(uint64_t{0}, uint64_t{4000}));
}

TEST(BackoffTest, EqualDrawsFromHalfToFull) {
  auto p = params(1001, 30000, 1.0, JitterPolicy::kEqual);
  PinnedRandom low(PinnedRandom::End::kLow), high(PinnedRandom::End::kHigh);
  EXPECT_EQ(backoff_delay(p, 0, low).count(), 500);    // h = floor(1001 / 2)
  EXPECT_EQ(backoff_delay(p, 0, high).count(), 1000);  // h + h
  EXPECT_EQ(high.calls[0], std::make_pair(uint64_t{0}, uint64_t{500}));
}

TEST(BackoffTest, DecorrelatedDrawsBetweenFirstAndThreeTimesBase) {
  auto p = params(1000, 30000, 2.0, JitterPolicy::kDecorrelated);
  PinnedRandom low(PinnedRandom::End::kLow), high(PinnedRandom::End::kHigh);
  EXPECT_EQ(backoff_delay(p, 1, low).count(), 1000);    // lo = min(first, max)
  EXPECT_EQ(backoff_delay(p, 1, high).count(), 6000);   // hi = min(3 * 2000, max)
  EXPECT_EQ(backoff_delay(p, 4, high).count(), 30000);  // 3 * 16000 capped at max
  EXPECT_EQ(high.calls[0], std::make_pair(uint64_t{1000}, uint64_t{6000}));
}

TEST(BackoffTest, DecorrelatedWithEqualBoundsDoesNotDraw) {
  auto p = params(5000, 5000, 2.0, JitterPolicy::kDecorrelated);
  PinnedRandom random(PinnedRandom::End::kHigh);
  EXPECT_EQ(backoff_delay(p, 3, random).count(), 5000);
  EXPECT_TRUE(random.calls.empty());
}

TEST(BackoffTest, ZeroBaseNeverDraws) {
  PinnedRandom random(PinnedRandom::End::kHigh);
  for (auto jitter : {JitterPolicy::kFull, JitterPolicy::kEqual}) {
    EXPECT_EQ(apply_jitter(params(1, 1, 1.0, jitter), milliseconds(0), random).count(), 0);
  }
  EXPECT_EQ(apply_jitter(params(1, 1, 1.0, JitterPolicy::kEqual), milliseconds(1), random).count(),
            0);
  EXPECT_TRUE(random.calls.empty());
}

// Over many seeds every draw stays inside the formula's bounds, and the bounds
// are actually approached (the distribution is not stuck at one end).
TEST(BackoffTest, JitterStaysInBoundsOverManySeeds) {
  struct Case {
    JitterPolicy jitter;
    uint32_t k;
    int64_t lo, hi;
  };
  // first 1000, max 30000, factor 2: base(3) = 8000.
  const Case cases[] = {
      {JitterPolicy::kFull, 3, 0, 8000},
      {JitterPolicy::kEqual, 3, 4000, 8000},
      {JitterPolicy::kDecorrelated, 3, 1000, 24000},
      {JitterPolicy::kDecorrelated, 5, 1000, 30000},
  };
  for (const auto& c : cases) {
    auto p = params(1000, 30000, 2.0, c.jitter);
    int64_t seen_min = INT64_MAX, seen_max = INT64_MIN;
    for (uint64_t seed = 0; seed < 5000; ++seed) {
      DefaultRandomSource random(seed);
      int64_t d = backoff_delay(p, c.k, random).count();
      ASSERT_GE(d, c.lo) << "seed " << seed;
      ASSERT_LE(d, c.hi) << "seed " << seed;
      seen_min = std::min(seen_min, d);
      seen_max = std::max(seen_max, d);
    }
    const int64_t span = c.hi - c.lo;
    EXPECT_LT(seen_min, c.lo + span / 20);
    EXPECT_GT(seen_max, c.hi - span / 20);
  }
}

TEST(MergeEnvTest, RunnerWinsAndLastDuplicateWins) {
  std::vector<EnvVar> task = {{"A", "task"}, {"B", "first"}, {"B", "second"}, {"C", "task"}};
  std::vector<EnvVar> runner = {{"C", "runner"}, {"D", "x"}, {"D", "y"}};
  auto merged = merge_env(task, runner);
  std::map<std::string, std::string> expected = {
      {"A", "task"}, {"B", "second"}, {"C", "runner"}, {"D", "y"}};
  EXPECT_EQ(merged, expected);
  EXPECT_TRUE(merge_env({}, {}).empty());
}

}  // namespace
}  // namespace solti
