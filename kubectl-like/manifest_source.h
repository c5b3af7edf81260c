// Collects manifest texts the way kubectl's -f does: a file, a directory
// (its .yaml/.yml/.json files; with recursive, those of every subdirectory
// too), or "-" for standard input. Files come back in path order so that
// output and error messages are stable.
#pragma once

#include <string>
#include <vector>

#include "model/status.h"

namespace solti::ctl {

struct ManifestFile {
  std::string path;  // as shown to the user; "<stdin>" for "-"
  std::string text;
};

Result<std::vector<ManifestFile>> read_manifest_files(const std::vector<std::string>& paths,
                                                      bool recursive);

}  // namespace solti::ctl
