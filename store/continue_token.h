// Continue tokens of paged lists (internal to store/, but kept apart so
// that it can be fuzzed). Opaque to clients: base64url of a small JSON
// document naming the chain's snapshot, its revision, the prefix it lists
// and the last key returned.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/status.h"

namespace solti::store {

struct ContinueToken {
  uint64_t revision = 0;
  uint64_t snapshot_id = 0;
  std::string prefix;
  std::string last_key;
};

std::string encode_continue_token(const ContinueToken& token);
// kBadRequest "invalid continue token" for anything that is not a token.
Result<ContinueToken> decode_continue_token(std::string_view text);

}  // namespace solti::store
