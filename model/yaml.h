// YAML <-> JSON for manifests and request bodies.
//
// Parsing follows the YAML 1.2 core schema (so `yes` stays a string, quoted
// scalars are always strings), accepts multi-document streams, rejects
// duplicate keys and non-scalar keys, and bounds the work an input can cause:
// aliases that would expand the document beyond the size of its text (YAML
// "billion laughs") are refused. Errors carry line and column (1-based).
//
// Every parsed document keeps where each field path starts in the text, so
// that later validation errors can name a line.
#pragma once

#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "model/object_meta.h"
#include "model/status.h"

namespace solti {

struct SourcePosition {
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based
  bool known() const { return line > 0; }
  std::string to_string() const;  // "12:5"
};

// "spec.env[0].name" -> {"spec", "env", "0", "name"}; "labels[a.b/c]" ->
// {"labels", "a.b/c"}: map keys in brackets keep their dots.
std::vector<std::string> split_field_path(std::string_view field_path);

struct YamlDocument {
  Json value;
  SourcePosition start;
  // Path segments of every key and list item -> where it is written.
  std::map<std::vector<std::string>, SourcePosition> positions;

  // Position of `field_path`, or of its nearest written ancestor, or `start`.
  SourcePosition position_of(std::string_view field_path) const;
};

// Empty documents (e.g. a stream ending in "---") are skipped.
// Errors are kBadRequest with a message "line L, column C: ...".
// `max_tokens` bounds the memory a parse may take (yaml-cpp holds some 300
// bytes per token): a stream with more nodes and indicators is refused.
Result<std::vector<YamlDocument>> parse_yaml(
    std::string_view text, size_t max_tokens = std::numeric_limits<size_t>::max());

// Block-style YAML that parse_yaml reads back as the same JSON.
std::string to_yaml(const Json& value);

}  // namespace solti
