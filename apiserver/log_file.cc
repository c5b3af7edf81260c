#include "apiserver/log_file.h"

#include <fstream>
#include <limits>

namespace solti::api {

std::string read_log(const std::string& path, uint64_t offset, size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const uint64_t size = uint64_t(in.tellg());
  if (offset >= size) return "";
  const uint64_t n = std::min<uint64_t>(size - offset, max);
  std::string data(n, '\0');
  in.seekg(std::streamoff(offset));
  in.read(data.data(), std::streamsize(n));
  data.resize(size_t(in.gcount()));
  return data;
}

uint64_t tail_offset(const std::string& path, int64_t lines) {
  // Attempt logs are capped (10 MiB by default), so one read is fine.
  const std::string data = read_log(path, 0, std::numeric_limits<size_t>::max());
  if (lines <= 0) return data.size();
  size_t end = data.size();
  if (end > 0 && data[end - 1] == '\n') --end;  // the last line's own newline
  int64_t seen = 0;
  for (size_t i = end; i > 0; --i) {
    if (data[i - 1] == '\n' && ++seen == lines) return i;
  }
  return 0;
}

}  // namespace solti::api
