// Task manifests as users write them: a YAML (or JSON) stream of documents,
// each decoded into a Task and checked, with every problem located at the
// line and column where the offending field is written.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "model/json_codec.h"
#include "model/task.h"
#include "model/validation.h"
#include "model/yaml.h"

namespace solti {

// One object decoded and validated, all problems collected:
//  - not a solti.io/v1 Task: only the apiVersion/kind problems (the rest of
//    a foreign object says nothing useful);
//  - otherwise the decoding errors (wrong types, unsupported values) and the
//    validation errors, less those a decoding error already explains (a field
//    that failed to decode is not reported again as "required").
// Unknown fields are returned apart, for the caller's fieldValidation choice.
struct CheckedTask {
  Task task;
  FieldErrors errors;
  std::vector<std::string> unknown_fields;
};
CheckedTask decode_and_validate_task(const Json& object, Origin origin);

struct ManifestProblem {
  SourcePosition position;
  FieldError error;
  // "FILE:LINE:COLUMN: field: message"
  std::string to_string(std::string_view file) const;
};

struct TaskManifest {
  Json object;  // the document as written
  SourcePosition start;
  Task task;
  // Every problem of the document, unknown fields included, in text order.
  // Empty when the document is a valid Task.
  std::vector<ManifestProblem> problems;
};

// Fails only when the text is not YAML at all (kBadRequest with line and
// column); problems inside documents are reported per document.
Result<std::vector<TaskManifest>> decode_task_manifests(std::string_view text, Origin origin);

}  // namespace solti
