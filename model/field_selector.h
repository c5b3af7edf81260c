// Kubernetes field selectors (?fieldSelector=): "status.phase=Pending,
// metadata.name!=x". Terms are ANDed; '\' escapes ',', '=' and '\' in values.
// Which fields exist is the resource strategy's business: parse accepts any
// field name, and check_fields() rejects the ones a resource does not offer.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/status.h"

namespace solti {

class FieldSelector {
 public:
  struct Term {
    std::string field;
    bool equals = true;  // false for !=
    std::string value;
    bool operator==(const Term&) const = default;
  };

  FieldSelector() = default;  // matches everything

  static Result<FieldSelector> parse(std::string_view text);

  // kBadRequest naming the first field not in `supported`.
  Status check_fields(const std::vector<std::string_view>& supported) const;
  // `field_value` returns the object's value for a field name.
  bool matches(const std::function<std::string(std::string_view field)>& field_value) const;

  bool empty() const { return terms_.empty(); }
  const std::vector<Term>& terms() const { return terms_; }
  // The value required by an equality term on `field`, if any (for indexes).
  std::optional<std::string> required_value(std::string_view field) const;

 private:
  std::vector<Term> terms_;
};

}  // namespace solti
