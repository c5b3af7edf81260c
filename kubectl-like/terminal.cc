#include "kubectl-like/terminal.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

namespace solti::ctl {
namespace {

bool colour_out = false;
bool colour_err = false;

}  // namespace

bool configure_colour(const std::string& mode) {
  if (mode == "always") {
    colour_out = colour_err = true;
  } else if (mode == "never") {
    colour_out = colour_err = false;
  } else if (mode == "auto") {
    const char* no_colour = std::getenv("NO_COLOR");
    const bool allowed = !(no_colour && *no_colour);
    colour_out = allowed && ::isatty(STDOUT_FILENO);
    colour_err = allowed && ::isatty(STDERR_FILENO);
  } else {
    return false;
  }
  return true;
}

bool colour_on(Stream stream) { return stream == Stream::kOut ? colour_out : colour_err; }

std::string paint(Stream stream, const char* sgr, const std::string& text) {
  if (!colour_on(stream)) return text;
  return std::string("\033[") + sgr + "m" + text + "\033[0m";
}

void print_error_line(const std::string& message) {
  std::cerr << paint(Stream::kErr, kRed, "error:") << " " << message << "\n";
}

}  // namespace solti::ctl
