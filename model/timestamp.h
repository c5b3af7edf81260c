// RFC 3339 timestamps at millisecond resolution, UTC.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "model/status.h"

namespace solti {

using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

// Accepts "2026-01-02T03:04:05Z", fractional seconds and numeric offsets
// ("+02:00"); the result is normalised to UTC.
Result<Timestamp> parse_rfc3339(std::string_view text);
// "2026-01-02T03:04:05Z", or "...05.25Z" when there are milliseconds.
std::string format_rfc3339(Timestamp t);

}  // namespace solti
