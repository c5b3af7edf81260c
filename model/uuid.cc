#include "model/uuid.h"

#include <cstdint>
#include <mutex>
#include <random>

namespace solti {

std::string new_uuid() {
  // One engine for the process, seeded once: seeding one per thread cost
  // every fresh server thread (soltid has thousands) a random_device read.
  static std::mutex mu;
  static std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  uint64_t hi, lo;
  {
    std::lock_guard lock(mu);
    hi = engine();
    lo = engine();
  }
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  auto put = [&](uint64_t v, int from_nibble, int count) {
    for (int i = from_nibble; i < from_nibble + count; ++i) out += kHex[(v >> (60 - 4 * i)) & 0xF];
  };
  put(hi, 0, 8);
  out += '-';
  put(hi, 8, 4);
  out += '-';
  put(hi, 12, 4);
  out += '-';
  put(lo, 0, 4);
  out += '-';
  put(lo, 4, 12);
  return out;
}

}  // namespace solti
