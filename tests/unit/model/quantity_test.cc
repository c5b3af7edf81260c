#include "model/quantity.h"

#include <gtest/gtest.h>

namespace solti {
namespace {

int64_t bytes(std::string_view text) {
  auto q = Quantity::parse(text);
  EXPECT_TRUE(q.ok()) << text;
  return q.ok() ? q->value_ceil() : -1;
}

TEST(QuantityTest, BinaryAndDecimalSuffixes) {
  EXPECT_EQ(bytes("64Mi"), 64 * 1024 * 1024);
  EXPECT_EQ(bytes("1Ki"), 1024);
  EXPECT_EQ(bytes("2Gi"), int64_t{2} * 1024 * 1024 * 1024);
  EXPECT_EQ(bytes("1G"), 1'000'000'000);
  EXPECT_EQ(bytes("1k"), 1000);
  EXPECT_EQ(bytes("128"), 128);
  EXPECT_EQ(bytes("2e3"), 2000);
  EXPECT_EQ(bytes("1.5"), 2);  // rounded up
}

TEST(QuantityTest, MilliValuesForCpu) {
  EXPECT_EQ(Quantity::parse("500m")->milli_value_ceil(), 500);
  EXPECT_EQ(Quantity::parse("2")->milli_value_ceil(), 2000);
  EXPECT_EQ(Quantity::parse("0.25")->milli_value_ceil(), 250);
}

TEST(QuantityTest, RejectsGarbageAndKeepsText) {
  for (const char* bad : {"", "abc", "1Zi", "Mi", "1..5", "1 Mi", "1e"}) {
    auto q = Quantity::parse(bad);
    EXPECT_FALSE(q.ok()) << bad;
  }
  EXPECT_EQ(Quantity::parse("64Mi")->text(), "64Mi");
  EXPECT_FALSE(Quantity::parse("0")->is_positive());
  EXPECT_FALSE(Quantity::parse("-1")->is_positive());
}

}  // namespace
}  // namespace solti
