// Kubernetes label selectors, in both of their forms:
//  - the string syntax of ?labelSelector= and -l:
//      "team=data,tier!=web,env in (a,b),zone notin (x),gpu,!spot"
//  - the structured LabelSelector of a manifest (matchLabels/matchExpressions).
// Both become one Selector, a conjunction of requirements. Immutable after
// construction; safe to share between threads.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/fields.h"
#include "model/status.h"

namespace solti {

using Labels = std::map<std::string, std::string>;

enum class SelectorOperator { kIn, kNotIn, kExists, kDoesNotExist };

template <>
struct EnumNames<SelectorOperator> {
  static constexpr std::array<std::pair<SelectorOperator, std::string_view>, 4> values{{
      {SelectorOperator::kIn, "In"},
      {SelectorOperator::kNotIn, "NotIn"},
      {SelectorOperator::kExists, "Exists"},
      {SelectorOperator::kDoesNotExist, "DoesNotExist"},
  }};
};

// Wire form (metav1.LabelSelector).
struct LabelSelectorRequirement {
  std::string key;
  std::optional<SelectorOperator> op;  // JSON "operator"
  std::vector<std::string> values;
  bool operator==(const LabelSelectorRequirement&) const = default;
};

SOLTI_FIELDS(LabelSelectorRequirement) {
  v("key", s.key, "The label key the requirement applies to.");
  v("operator", s.op, "In, NotIn, Exists or DoesNotExist.");
  v("values", s.values, "Values for In and NotIn; empty for Exists and DoesNotExist.");
}

struct LabelSelector {
  Labels match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;
  bool operator==(const LabelSelector&) const = default;
};

SOLTI_FIELDS(LabelSelector) {
  v("matchLabels", s.match_labels, "Labels that must all be present with these values.");
  v("matchExpressions", s.match_expressions, "Requirements that must all hold.");
}

class Selector {
 public:
  struct Requirement {
    std::string key;
    SelectorOperator op;
    std::vector<std::string> values;  // sorted, unique; one value for = and !=
    bool operator==(const Requirement&) const = default;
  };

  Selector() = default;  // matches everything

  // The string syntax. Errors are kBadRequest and quote the selector.
  static Result<Selector> parse(std::string_view text);
  // The structured form; errors carry field paths under `path`.
  static Result<Selector> from(const LabelSelector& selector, const FieldPath& path);

  bool matches(const Labels& labels) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }
  // Canonical string syntax; parse(to_string()) gives an equal Selector.
  std::string to_string() const;

  bool operator==(const Selector&) const = default;

 private:
  std::vector<Requirement> requirements_;
};

// Validation of the structured form with field paths (used by Task validation).
FieldErrors validate_label_selector(const LabelSelector& selector, const FieldPath& path);

}  // namespace solti
