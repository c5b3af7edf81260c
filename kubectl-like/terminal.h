// How soltictl writes for people: ANSI colour only where a person reads
// it (a terminal), never into pipes or files. `--color=always|never` and
// the NO_COLOR convention (https://no-color.org) override the guess.
// Configure once at start; reads are then thread-safe.
#pragma once

#include <string>

namespace solti::ctl {

enum class Stream { kOut, kErr };

// "auto", "always" or "never"; false for anything else.
bool configure_colour(const std::string& mode);

bool colour_on(Stream stream);

// `text` in the SGR colour `sgr` (e.g. "32" green) when `stream` takes colour.
std::string paint(Stream stream, const char* sgr, const std::string& text);

inline constexpr const char* kRed = "31";
inline constexpr const char* kGreen = "32";
inline constexpr const char* kYellow = "33";
inline constexpr const char* kMagenta = "35";
inline constexpr const char* kDim = "2";

// "error: MESSAGE" on stderr, the prefix in red on a terminal.
void print_error_line(const std::string& message);

}  // namespace solti::ctl
