#include "apiserver/strategy.h"

namespace solti::api {

Result<LogRef> Strategy::log_ref(const Json&, int64_t) const {
  return Status(StatusCode::kNotFound, "the server could not find the requested resource");
}

}  // namespace solti::api
