#include "store/continue_token.h"

#include <array>

#include "model/object_meta.h"

namespace solti::store {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr size_t kMaxTokenLength = 4096;

std::string base64url_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(n >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

bool base64url_decode(std::string_view in, std::string& out) {
  std::array<int, 256> value;
  value.fill(-1);
  for (size_t i = 0; i < kAlphabet.size(); ++i) value[uint8_t(kAlphabet[i])] = int(i);
  if (in.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = value[uint8_t(c)];
    if (v < 0) return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xFF);
    }
  }
  return true;
}

}  // namespace

std::string encode_continue_token(const ContinueToken& token) {
  // Keys are bytes, not necessarily UTF-8: they travel base64-encoded.
  Json j = {{"v", 1},
            {"rv", token.revision},
            {"snap", token.snapshot_id},
            {"prefix", base64url_encode(token.prefix)},
            {"start", base64url_encode(token.last_key)}};
  return base64url_encode(j.dump());
}

Result<ContinueToken> decode_continue_token(std::string_view text) {
  auto invalid = [] {
    return Status(StatusCode::kBadRequest, "invalid continue token: re-list without continue");
  };
  if (text.empty() || text.size() > kMaxTokenLength) return invalid();
  std::string raw;
  if (!base64url_decode(text, raw)) return invalid();
  Json j = Json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("v", Json()) != 1) return invalid();
  auto rv = j.find("rv"), snap = j.find("snap"), prefix = j.find("prefix"), start = j.find("start");
  if (rv == j.end() || !rv->is_number_unsigned() || snap == j.end() ||
      !snap->is_number_unsigned() || prefix == j.end() || !prefix->is_string() ||
      start == j.end() || !start->is_string())
    return invalid();
  ContinueToken token;
  token.revision = rv->get<uint64_t>();
  token.snapshot_id = snap->get<uint64_t>();
  if (!base64url_decode(prefix->get_ref<const std::string&>(), token.prefix) ||
      !base64url_decode(start->get_ref<const std::string&>(), token.last_key))
    return invalid();
  return token;
}

}  // namespace solti::store
