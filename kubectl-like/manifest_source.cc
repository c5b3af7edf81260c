#include "kubectl-like/manifest_source.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace solti::ctl {
namespace {

namespace fs = std::filesystem;

bool is_manifest_extension(const fs::path& p) {
  auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

Result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, "cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Result<std::vector<ManifestFile>> read_manifest_files(const std::vector<std::string>& paths,
                                                      bool recursive) {
  std::vector<ManifestFile> files;
  for (const auto& arg : paths) {
    if (arg == "-") {
      std::string text((std::istreambuf_iterator<char>(std::cin)),
                       std::istreambuf_iterator<char>());
      files.push_back({"<stdin>", std::move(text)});
      continue;
    }
    std::error_code ec;
    fs::file_status st = fs::status(arg, ec);
    if (ec || !fs::exists(st)) {
      return Status(StatusCode::kNotFound, "the path \"" + arg + "\" does not exist");
    }
    if (!fs::is_directory(st)) {
      auto text = read_file(arg);
      if (!text.ok()) return text.status();
      files.push_back({arg, std::move(text).value()});
      continue;
    }
    std::vector<fs::path> found;
    auto collect = [&](const fs::directory_entry& entry) {
      if (entry.is_regular_file() && is_manifest_extension(entry.path()))
        found.push_back(entry.path());
    };
    if (recursive) {
      for (const auto& entry : fs::recursive_directory_iterator(arg, ec)) collect(entry);
    } else {
      for (const auto& entry : fs::directory_iterator(arg, ec)) collect(entry);
    }
    if (ec) return Status(StatusCode::kNotFound, "cannot list " + arg + ": " + ec.message());
    std::sort(found.begin(), found.end());
    for (const auto& path : found) {
      auto text = read_file(path);
      if (!text.ok()) return text.status();
      files.push_back({path.string(), std::move(text).value()});
    }
  }
  return files;
}

}  // namespace solti::ctl
