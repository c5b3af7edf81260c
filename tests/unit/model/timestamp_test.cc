#include "model/timestamp.h"

#include <gtest/gtest.h>

namespace solti {
namespace {

using namespace std::chrono;

TEST(TimestampTest, ParsesAndFormatsUtc) {
  auto t = parse_rfc3339("2026-01-02T03:04:05Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->time_since_epoch(), milliseconds(1767323045000));
  EXPECT_EQ(format_rfc3339(*t), "2026-01-02T03:04:05Z");
}

TEST(TimestampTest, KeepsMillisecondsAndNormalisesOffsets) {
  auto t = parse_rfc3339("2026-01-02T03:04:05.250+02:00");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(format_rfc3339(*t), "2026-01-02T01:04:05.25Z");
  auto nanos = parse_rfc3339("2026-01-02T03:04:05.123456789Z");
  ASSERT_TRUE(nanos.ok());
  EXPECT_EQ(format_rfc3339(*nanos), "2026-01-02T03:04:05.123Z");
  auto before_epoch = parse_rfc3339("1969-12-31T23:59:59Z");
  ASSERT_TRUE(before_epoch.ok());
  EXPECT_EQ(before_epoch->time_since_epoch(), -seconds(1));
  EXPECT_EQ(format_rfc3339(*before_epoch), "1969-12-31T23:59:59Z");
}

TEST(TimestampTest, RejectsMalformedAndImpossibleDates) {
  for (const char* bad : {"", "2026-01-02", "2026-01-02T03:04:05", "2026-13-01T00:00:00Z",
                          "2023-02-29T00:00:00Z", "2026-01-02T24:00:00Z", "2026-01-02T03:04:05.Z",
                          "2026-01-02T03:04:05Zjunk", "26-01-02T03:04:05Z"}) {
    auto t = parse_rfc3339(bad);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) {
      EXPECT_NE(t.status().message().find("RFC 3339"), std::string::npos);
    }
  }
  EXPECT_TRUE(parse_rfc3339("2024-02-29T00:00:00Z").ok());
}

}  // namespace
}  // namespace solti
