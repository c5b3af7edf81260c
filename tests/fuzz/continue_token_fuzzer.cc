// Continue tokens of paged lists: ?continue= reaches decode_continue_token
// before the store looks at anything else.
//
// Invariants:
//  - a token that decodes re-encodes to one that decodes to the same fields;
//  - any token the store encodes decodes to what was encoded (the input is
//    also read as the fields of a token: two revisions and two byte keys).
#include <cstring>

#include "store/continue_token.h"
#include "tests/fuzz/fuzz_support.h"

using namespace solti;

namespace {

bool same(const store::ContinueToken& a, const store::ContinueToken& b) {
  return a.revision == b.revision && a.snapshot_id == b.snapshot_id && a.prefix == b.prefix &&
         a.last_key == b.last_key;
}

void check_round_trip(const store::ContinueToken& token) {
  const std::string text = store::encode_continue_token(token);
  auto again = store::decode_continue_token(text);
  FUZZ_CHECK(again.ok(), "an encoded token does not decode: %s", text.c_str());
  FUZZ_CHECK(same(*again, token), "an encoded token decodes to other fields: %s", text.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  if (auto token = store::decode_continue_token(text); token.ok()) check_round_trip(*token);

  // The store bounds prefixes and keys by what it stores; tokens of large
  // keys are refused on the way back in (kMaxTokenLength), so stay small.
  if (size < 16 || size > 1024) return 0;
  store::ContinueToken token;
  std::memcpy(&token.revision, data, 8);
  std::memcpy(&token.snapshot_id, data + 8, 8);
  const std::string_view keys = text.substr(16);
  const size_t split = keys.empty() ? 0 : uint8_t(keys.front()) % keys.size();
  token.prefix = std::string(keys.substr(0, split));
  token.last_key = std::string(keys.substr(split));
  check_round_trip(token);
  return 0;
}
