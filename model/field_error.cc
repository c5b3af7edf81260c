#include "model/field_error.h"

namespace solti {

std::string FieldError::to_string() const {
  if (field.empty()) return message;
  return field + ": " + message;
}

std::string_view FieldError::reason() const {
  switch (type) {
    case FieldErrorType::kRequired:
      return "FieldValueRequired";
    case FieldErrorType::kInvalid:
      return "FieldValueInvalid";
    case FieldErrorType::kNotSupported:
      return "FieldValueNotSupported";
    case FieldErrorType::kForbidden:
      return "FieldValueForbidden";
    case FieldErrorType::kTooLong:
      return "FieldValueTooLong";
    case FieldErrorType::kDuplicate:
      return "FieldValueDuplicate";
    case FieldErrorType::kTypeInvalid:
      return "FieldValueTypeInvalid";
    case FieldErrorType::kUnknownField:
      return "FieldValueUnknown";
    case FieldErrorType::kFieldManagerConflict:
      return "FieldManagerConflict";
    case FieldErrorType::kResourceVersionTooLarge:
      return "ResourceVersionTooLarge";
  }
  return "FieldValueInvalid";
}

FieldPath FieldPath::child(std::string_view name) const {
  if (path_.empty()) return FieldPath(std::string(name));
  std::string p = path_;
  p += '.';
  p += name;
  return FieldPath(std::move(p));
}

FieldPath FieldPath::index(size_t i) const {
  return FieldPath(path_ + "[" + std::to_string(i) + "]");
}

FieldPath FieldPath::key(std::string_view map_key) const {
  std::string p = path_;
  p += '[';
  p += map_key;
  p += ']';
  return FieldPath(std::move(p));
}

std::string join_field_errors(const FieldErrors& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += "; ";
    out += e.to_string();
  }
  return out;
}

}  // namespace solti
