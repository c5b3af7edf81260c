#include "model/quantity.h"

#include <array>
#include <cmath>
#include <limits>

namespace solti {
namespace {

struct Suffix {
  std::string_view name;
  long double multiplier;
};

constexpr std::array<Suffix, 16> kSuffixes = {{
    {"Ki", 1024.0L},
    {"Mi", 1024.0L * 1024},
    {"Gi", 1024.0L * 1024 * 1024},
    {"Ti", 1024.0L * 1024 * 1024 * 1024},
    {"Pi", 1024.0L * 1024 * 1024 * 1024 * 1024},
    {"Ei", 1024.0L * 1024 * 1024 * 1024 * 1024 * 1024},
    {"n", 1e-9L},
    {"u", 1e-6L},
    {"m", 1e-3L},
    {"", 1.0L},
    {"k", 1e3L},
    {"M", 1e6L},
    {"G", 1e9L},
    {"T", 1e12L},
    {"P", 1e15L},
    {"E", 1e18L},
}};

int64_t saturate(long double v) {
  long double c = std::ceil(v);
  if (c >= static_cast<long double>(std::numeric_limits<int64_t>::max()))
    return std::numeric_limits<int64_t>::max();
  if (c <= static_cast<long double>(std::numeric_limits<int64_t>::min()))
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(c);
}

}  // namespace

Result<Quantity> Quantity::parse(std::string_view text) {
  auto fail = [&] {
    return Status(StatusCode::kInvalid,
                  "invalid quantity \"" + std::string(text) +
                      "\": expected a number with an optional suffix such as 64Mi, 1G or 500m");
  };
  std::string_view s = text;
  if (s.empty() || s.size() > 64) return fail();
  long double sign = 1;
  if (s.front() == '+' || s.front() == '-') {
    if (s.front() == '-') sign = -1;
    s.remove_prefix(1);
  }
  long double number = 0;
  size_t digits = 0;
  while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
    number = number * 10 + (s.front() - '0');
    s.remove_prefix(1);
    ++digits;
  }
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    long double scale = 0.1L;
    while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
      number += (s.front() - '0') * scale;
      scale /= 10;
      s.remove_prefix(1);
      ++digits;
    }
  }
  if (digits == 0) return fail();

  long double multiplier = 0;
  if (!s.empty() && (s.front() == 'e' || s.front() == 'E') && s.size() > 1) {
    // Decimal exponent ("2e3"); "E" alone is the exa suffix.
    std::string_view exp = s.substr(1);
    int exp_sign = 1;
    if (exp.front() == '+' || exp.front() == '-') {
      exp_sign = exp.front() == '-' ? -1 : 1;
      exp.remove_prefix(1);
    }
    if (exp.empty() || exp.size() > 3) return fail();
    int e = 0;
    for (char c : exp) {
      if (c < '0' || c > '9') return fail();
      e = e * 10 + (c - '0');
    }
    multiplier = std::pow(10.0L, exp_sign * e);
  } else {
    for (const auto& suffix : kSuffixes) {
      if (suffix.name == s) multiplier = suffix.multiplier;
    }
    if (multiplier == 0) return fail();
  }
  return Quantity(std::string(text), sign * number * multiplier);
}

int64_t Quantity::value_ceil() const { return saturate(value_); }

int64_t Quantity::milli_value_ceil() const { return saturate(value_ * 1000); }

}  // namespace solti
