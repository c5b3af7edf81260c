// Reading attempt log files for the log subresource: where the last N lines
// begin, and what lies past an offset (for following a growing file).
// Stateless; safe from any thread.
#pragma once

#include <cstdint>
#include <string>

namespace solti::api {

// The offset at which the last `lines` lines of the file begin (0 when it
// has no more than that; the file's size for 0 lines). A last line
// without a newline counts as a line. 0 when the file does not exist.
uint64_t tail_offset(const std::string& path, int64_t lines);

// Up to `max` bytes from `offset`; empty at the end of the file or when it
// does not exist (yet).
std::string read_log(const std::string& path, uint64_t offset, size_t max);

}  // namespace solti::api
