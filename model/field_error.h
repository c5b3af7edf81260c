// Field-level validation and decoding errors, addressed by a Kubernetes-style
// field path ("spec.backoff.factor", "spec.subprocess.env[2].name",
// "metadata.labels[team]"). Plain values; safe to copy between threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace solti {

enum class FieldErrorType {
  kRequired,                 // FieldValueRequired
  kInvalid,                  // FieldValueInvalid
  kNotSupported,             // FieldValueNotSupported
  kForbidden,                // FieldValueForbidden
  kTooLong,                  // FieldValueTooLong
  kDuplicate,                // FieldValueDuplicate
  kTypeInvalid,              // FieldValueTypeInvalid
  kUnknownField,             // FieldValueUnknown (strict field validation)
  kFieldManagerConflict,     // FieldManagerConflict (server-side apply)
  kResourceVersionTooLarge,  // ResourceVersionTooLarge (list or watch beyond the store)
};

struct FieldError {
  FieldErrorType type = FieldErrorType::kInvalid;
  std::string field;    // path, e.g. "spec.backoff.factor"
  std::string message;  // human text without the path, e.g. "must be >= 1, got 0.5"

  // "spec.backoff.factor: must be >= 1, got 0.5"
  std::string to_string() const;
  // The Kubernetes StatusCause reason, e.g. "FieldValueInvalid".
  std::string_view reason() const;

  bool operator==(const FieldError&) const = default;
};

using FieldErrors = std::vector<FieldError>;

// Builds field paths without allocating at every level of a visit until used.
class FieldPath {
 public:
  FieldPath() = default;
  explicit FieldPath(std::string root) : path_(std::move(root)) {}

  FieldPath child(std::string_view name) const;
  FieldPath index(size_t i) const;
  FieldPath key(std::string_view map_key) const;

  const std::string& str() const { return path_; }
  bool empty() const { return path_.empty(); }

 private:
  std::string path_;
};

// Joins the errors as "a: x; b: y" for one-line messages.
std::string join_field_errors(const FieldErrors& errors);

}  // namespace solti
