#include "model/timestamp.h"

#include <cstdio>

namespace solti {
namespace {

bool read_digits(std::string_view& s, size_t n, int& out) {
  if (s.size() < n) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  s.remove_prefix(n);
  return true;
}

bool expect(std::string_view& s, char c) {
  if (s.empty() || s.front() != c) return false;
  s.remove_prefix(1);
  return true;
}

}  // namespace

Result<Timestamp> parse_rfc3339(std::string_view text) {
  auto fail = [&] {
    return Status(StatusCode::kInvalid, "invalid timestamp \"" + std::string(text) +
                                            "\": expected RFC 3339 such as 2026-01-02T15:04:05Z");
  };
  std::string_view s = text;
  int year, month, day, hour, minute, second;
  if (!read_digits(s, 4, year) || !expect(s, '-') || !read_digits(s, 2, month) || !expect(s, '-') ||
      !read_digits(s, 2, day))
    return fail();
  if (s.empty() || (s.front() != 'T' && s.front() != 't' && s.front() != ' ')) return fail();
  s.remove_prefix(1);
  if (!read_digits(s, 2, hour) || !expect(s, ':') || !read_digits(s, 2, minute) ||
      !expect(s, ':') || !read_digits(s, 2, second))
    return fail();
  int millis = 0;
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    size_t digits = 0;
    while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
      if (digits < 3) millis = millis * 10 + (s.front() - '0');
      ++digits;
      s.remove_prefix(1);
    }
    if (digits == 0) return fail();
    for (size_t i = digits; i < 3; ++i) millis *= 10;
  }
  int offset_minutes = 0;
  if (!s.empty() && (s.front() == 'Z' || s.front() == 'z')) {
    s.remove_prefix(1);
  } else if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    int sign = s.front() == '-' ? -1 : 1;
    s.remove_prefix(1);
    int oh, om;
    if (!read_digits(s, 2, oh) || !expect(s, ':') || !read_digits(s, 2, om) || oh > 23 || om > 59)
      return fail();
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return fail();
  }
  if (!s.empty()) return fail();

  using namespace std::chrono;
  year_month_day ymd{std::chrono::year(year), std::chrono::month(unsigned(month)),
                     std::chrono::day(unsigned(day))};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return fail();
  Timestamp t = time_point_cast<milliseconds>(sys_days(ymd)) + hours(hour) + minutes(minute) +
                seconds(second) + milliseconds(millis) - minutes(offset_minutes);
  return t;
}

std::string format_rfc3339(Timestamp t) {
  using namespace std::chrono;
  auto day_point = floor<days>(t);
  year_month_day ymd{day_point};
  auto in_day = t - day_point;
  auto h = duration_cast<hours>(in_day);
  auto m = duration_cast<minutes>(in_day - h);
  auto s = duration_cast<seconds>(in_day - h - m);
  auto ms = (in_day - h - m - s).count();
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02lld", int(ymd.year()),
                        unsigned(ymd.month()), unsigned(ymd.day()), int(h.count()), int(m.count()),
                        static_cast<long long>(s.count()));
  std::string out(buf, size_t(n));
  if (ms != 0) {
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03lld", static_cast<long long>(ms));
    std::string f(frac);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out += 'Z';
  return out;
}

}  // namespace solti
