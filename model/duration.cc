#include "model/duration.h"

#include <array>
#include <cstdint>
#include <limits>

namespace solti {
namespace {

struct Unit {
  std::string_view name;
  int64_t nanos;
};

constexpr std::array<Unit, 8> kUnits = {{
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // U+00B5 micro sign
    {"\xCE\xBCs", 1'000},  // U+03BC Greek mu
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

Status duration_error(std::string_view text, std::string_view why) {
  return Status(StatusCode::kInvalid,
                "invalid duration \"" + std::string(text) + "\": " + std::string(why));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Result<Duration> Duration::parse(std::string_view text) {
  constexpr std::string_view kHint =
      R"(expected a number and a unit (ns, us, ms, s, m, h) such as "30s" or "1h30m")";
  std::string_view s = text;
  if (s.empty()) return duration_error(text, kHint);
  bool negative = false;
  if (s.front() == '-' || s.front() == '+') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return Duration(std::string(text), std::chrono::nanoseconds(0));
  if (s.empty()) return duration_error(text, kHint);

  // Accumulate in 128 bits so that overflow is detected, not wrapped.
  __int128 total = 0;
  constexpr __int128 kMax = std::numeric_limits<int64_t>::max();
  while (!s.empty()) {
    __int128 whole = 0;
    size_t whole_digits = 0;
    while (!s.empty() && is_digit(s.front())) {
      whole = whole * 10 + (s.front() - '0');
      if (whole > kMax) return duration_error(text, "out of range");
      s.remove_prefix(1);
      ++whole_digits;
    }
    __int128 frac = 0, scale = 1;
    size_t frac_digits = 0;
    if (!s.empty() && s.front() == '.') {
      s.remove_prefix(1);
      while (!s.empty() && is_digit(s.front())) {
        if (scale < 1'000'000'000'000'000'000) {  // further digits cannot matter at ns precision
          frac = frac * 10 + (s.front() - '0');
          scale *= 10;
        }
        s.remove_prefix(1);
        ++frac_digits;
      }
    }
    if (whole_digits == 0 && frac_digits == 0) return duration_error(text, kHint);

    size_t unit_len = 0;
    while (unit_len < s.size() && !is_digit(s[unit_len]) && s[unit_len] != '.') ++unit_len;
    std::string_view unit_name = s.substr(0, unit_len);
    if (unit_name.empty()) return duration_error(text, "missing unit; " + std::string(kHint));
    const Unit* unit = nullptr;
    for (const auto& u : kUnits) {
      if (u.name == unit_name) unit = &u;
    }
    if (unit == nullptr) {
      return duration_error(text, "unknown unit \"" + std::string(unit_name) +
                                      "\" (valid units: ns, us, ms, s, m, h)");
    }
    s.remove_prefix(unit_len);

    total += whole * unit->nanos + frac * unit->nanos / scale;
    if (total > kMax) return duration_error(text, "out of range");
  }
  auto nanos = static_cast<int64_t>(negative ? -total : total);
  return Duration(std::string(text), std::chrono::nanoseconds(nanos));
}

Duration Duration::from(std::chrono::nanoseconds value) {
  return Duration(format_duration(value), value);
}

std::string format_duration(std::chrono::nanoseconds value) {
  int64_t n = value.count();
  if (n == 0) return "0s";
  std::string out;
  // Work in unsigned magnitude so that INT64_MIN formats correctly.
  uint64_t rest = n < 0 ? uint64_t(0) - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  if (n < 0) out += '-';
  auto take = [&](uint64_t unit_nanos, std::string_view name) {
    if (rest >= unit_nanos) {
      out += std::to_string(rest / unit_nanos);
      out += name;
      rest %= unit_nanos;
    }
  };
  take(3'600'000'000'000ULL, "h");
  take(60'000'000'000ULL, "m");
  take(1'000'000'000ULL, "s");
  if (rest % 1'000'000 == 0) {
    take(1'000'000, "ms");
  } else if (rest % 1'000 == 0) {
    take(1'000, "us");
  } else {
    take(1, "ns");
  }
  return out;
}

}  // namespace solti
