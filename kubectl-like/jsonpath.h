// kubectl's JSONPath templates for `soltictl get -o jsonpath=TEMPLATE`
// (https://kubernetes.io/docs/reference/kubectl/jsonpath/): text with
// {expressions} in braces.
//
// Supported inside braces: `$` (the root) and `@` (the current object);
// `.field`, `['field']` and `["a","b"]`; `\.` for a dot inside a field
// name; `.*` and `[*]`; `[N]` and `[-N]`; `[start:end:step]`; `..field`
// (recursive descent); `[?(@.path OP value)]` with ==, !=, <, <=, >, >=,
// or `[?(@.path)]` for presence; `"text"` literals with \n, \t, \"
// escapes; `range EXPR` … `end`.
//
// Missing keys print nothing, as `kubectl get` does. Strings print as
// themselves, everything else as compact JSON; several results of one
// expression are separated by a space.
//
// A JsonPath is immutable once parsed; executing it is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/object_meta.h"
#include "model/status.h"

namespace solti::ctl {

class JsonPath {
 public:
  // kBadRequest naming the position and what was wrong.
  static Result<JsonPath> parse(std::string_view text);

  std::string execute(const Json& root) const;

  struct Node;  // one piece of the template, defined in jsonpath.cc

 private:
  explicit JsonPath(std::vector<std::shared_ptr<const Node>> nodes) : nodes_(std::move(nodes)) {}

  std::vector<std::shared_ptr<const Node>> nodes_;
};

}  // namespace solti::ctl
