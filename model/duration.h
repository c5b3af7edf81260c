// Durations written the Go/Kubernetes way: "500ms", "30s", "1h30m", "1.5s".
// A Duration remembers the text it was parsed from so that stored manifests
// keep exactly what the user wrote; equality compares that text (so "60s" ->
// "1m" is a spec change, as Kubernetes would see it).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "model/status.h"

namespace solti {

class Duration {
 public:
  Duration() : text_("0s") {}

  // Units: ns, us (or µs), ms, s, m, h; decimals allowed ("1.5h"); a leading
  // sign is accepted; "0" alone is zero. Errors name the problem and the text.
  static Result<Duration> parse(std::string_view text);
  // A Duration whose text is the canonical form of `value`.
  static Duration from(std::chrono::nanoseconds value);

  std::chrono::nanoseconds value() const { return value_; }
  // Rounded down to whole milliseconds (the unit of backoff arithmetic).
  std::chrono::milliseconds millis() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(value_);
  }
  const std::string& text() const { return text_; }

  bool operator==(const Duration& other) const { return text_ == other.text_; }

 private:
  Duration(std::string text, std::chrono::nanoseconds value)
      : text_(std::move(text)), value_(value) {}

  std::string text_;
  std::chrono::nanoseconds value_{0};
};

// Canonical compact form: "1h30m", "1s500ms", "250us", "0s", "-5s".
std::string format_duration(std::chrono::nanoseconds value);

}  // namespace solti
