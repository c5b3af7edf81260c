// Kubernetes resource quantities: "64Mi", "1G", "500m", "1.5", "2e3".
// Keeps the text as written; exposes integer views for limits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/status.h"

namespace solti {

class Quantity {
 public:
  Quantity() : text_("0") {}
  static Result<Quantity> parse(std::string_view text);

  const std::string& text() const { return text_; }
  // Whole units, rounded up (bytes for memory). Saturates at INT64_MAX.
  int64_t value_ceil() const;
  // Thousandths, rounded up (millicores for cpu). Saturates at INT64_MAX.
  int64_t milli_value_ceil() const;
  bool is_positive() const { return value_ > 0; }

  bool operator==(const Quantity& other) const { return text_ == other.text_; }

 private:
  Quantity(std::string text, long double value) : text_(std::move(text)), value_(value) {}

  std::string text_;
  long double value_ = 0;
};

}  // namespace solti
