#include "model/duration.h"

#include <gtest/gtest.h>

namespace solti {
namespace {

using namespace std::chrono_literals;

std::chrono::nanoseconds parsed(std::string_view text) {
  auto d = Duration::parse(text);
  EXPECT_TRUE(d.ok()) << text << ": " << d.status().message();
  return d.ok() ? d->value() : std::chrono::nanoseconds(-1);
}

std::string error_of(std::string_view text) {
  auto d = Duration::parse(text);
  EXPECT_FALSE(d.ok()) << text;
  return d.ok() ? "" : d.status().message();
}

TEST(DurationTest, ParsesEveryUnit) {
  EXPECT_EQ(parsed("7ns"), 7ns);
  EXPECT_EQ(parsed("7us"), 7us);
  EXPECT_EQ(parsed("7\xC2\xB5s"), 7us);
  EXPECT_EQ(parsed("500ms"), 500ms);
  EXPECT_EQ(parsed("30s"), 30s);
  EXPECT_EQ(parsed("5m"), 5min);
  EXPECT_EQ(parsed("2h"), 2h);
}

TEST(DurationTest, ParsesCompoundsFractionsSignsAndZero) {
  EXPECT_EQ(parsed("1h30m"), 90min);
  EXPECT_EQ(parsed("2h45m30.5s"), 2h + 45min + 30s + 500ms);
  EXPECT_EQ(parsed("1.5s"), 1500ms);
  EXPECT_EQ(parsed(".5s"), 500ms);
  EXPECT_EQ(parsed("1.s"), 1s);
  EXPECT_EQ(parsed("0"), 0ns);
  EXPECT_EQ(parsed("0s"), 0ns);
  EXPECT_EQ(parsed("-5s"), -5s);
  EXPECT_EQ(parsed("+5s"), 5s);
  EXPECT_EQ(parsed("1.000000001s"), 1s + 1ns);
}

TEST(DurationTest, KeepsTheTextAsWritten) {
  auto d = Duration::parse("90s");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->text(), "90s");
  EXPECT_EQ(d->value(), 90s);
  // Equality is textual: "90s" and "1m30s" are different specs.
  EXPECT_FALSE(*d == *Duration::parse("1m30s"));
  EXPECT_TRUE(*d == *Duration::parse("90s"));
}

TEST(DurationTest, ErrorsSayWhatIsWrong) {
  EXPECT_EQ(
      error_of(""),
      R"(invalid duration "": expected a number and a unit (ns, us, ms, s, m, h) such as "30s" or "1h30m")");
  EXPECT_EQ(
      error_of("30"),
      R"(invalid duration "30": missing unit; expected a number and a unit (ns, us, ms, s, m, h) such as "30s" or "1h30m")");
  EXPECT_EQ(error_of("3d"),
            R"(invalid duration "3d": unknown unit "d" (valid units: ns, us, ms, s, m, h))");
  EXPECT_EQ(error_of("99999999999h"), R"(invalid duration "99999999999h": out of range)");
  EXPECT_NE(error_of("abc").find("expected a number"), std::string::npos);
  EXPECT_NE(error_of("."), "");
  EXPECT_NE(error_of("-"), "");
  EXPECT_NE(error_of("1h30"), "");
  EXPECT_NE(error_of("1 s"), "");
  EXPECT_NE(error_of("s"), "");
}

TEST(DurationTest, FormatsCanonically) {
  EXPECT_EQ(format_duration(0ns), "0s");
  EXPECT_EQ(format_duration(90min), "1h30m");
  EXPECT_EQ(format_duration(1500ms), "1s500ms");
  EXPECT_EQ(format_duration(250us), "250us");
  EXPECT_EQ(format_duration(1s + 1ns), "1s1ns");
  EXPECT_EQ(format_duration(-5s), "-5s");
  EXPECT_EQ(format_duration(std::chrono::nanoseconds(INT64_MIN)), "-2562047h47m16s854775808ns");
  EXPECT_EQ(Duration::from(30s).text(), "30s");
}

TEST(DurationTest, FormatThenParseIsIdentity) {
  for (int64_t n : {int64_t{1}, int64_t{999}, int64_t{1'000'000}, int64_t{1'234'567'890},
                    int64_t{3'600'000'000'001}, INT64_MAX, -int64_t{42'000'000}}) {
    std::chrono::nanoseconds value(n);
    EXPECT_EQ(parsed(format_duration(value)), value) << n;
  }
}

}  // namespace
}  // namespace solti
