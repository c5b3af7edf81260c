#include "model/json_codec.h"

#include <cmath>
#include <limits>

namespace solti {
std::string json_text(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

namespace codec_detail {

std::string json_type_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "list";
    case Json::value_t::object:
      return "object";
    default:
      return "value";
  }
}

std::string short_dump(const Json& j) {
  if (j.is_object()) return "{...}";
  if (j.is_array()) return "[...]";
  std::string text = json_text(j);
  if (text.size() > 64) text = text.substr(0, 61) + "...";
  return text;
}

}  // namespace codec_detail

void JsonDecoder::type_error(const FieldPath& path, std::string_view expected, const Json& got) {
  std::string message = "must be ";
  message += expected;
  message += ", got ";
  message += codec_detail::json_type_name(got);
  if (!got.is_object() && !got.is_array()) message += " " + codec_detail::short_dump(got);
  report_.errors.push_back({FieldErrorType::kTypeInvalid, path.str(), std::move(message)});
}

void JsonDecoder::read(const Json& j, const FieldPath& path, std::string& out) {
  if (!j.is_string()) return type_error(path, "a string", j);
  out = j.get<std::string>();
}

void JsonDecoder::read(const Json& j, const FieldPath& path, bool& out) {
  if (!j.is_boolean()) return type_error(path, "a boolean", j);
  out = j.get<bool>();
}

void JsonDecoder::read(const Json& j, const FieldPath& path, int64_t& out) {
  if (j.is_number_unsigned()) {
    auto v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      report_.errors.push_back({FieldErrorType::kInvalid, path.str(),
                                "must fit in a signed 64-bit integer, got " + j.dump()});
      return;
    }
    out = static_cast<int64_t>(v);
    return;
  }
  if (!j.is_number_integer()) return type_error(path, "an integer", j);
  out = j.get<int64_t>();
}

void JsonDecoder::read(const Json& j, const FieldPath& path, double& out) {
  if (!j.is_number()) return type_error(path, "a number", j);
  out = j.get<double>();
}

void JsonDecoder::read(const Json& j, const FieldPath& path, Duration& out) {
  if (!j.is_string()) return type_error(path, "a duration string such as \"30s\"", j);
  auto parsed = Duration::parse(j.get_ref<const std::string&>());
  if (!parsed.ok()) {
    report_.errors.push_back({FieldErrorType::kInvalid, path.str(), parsed.status().message()});
    return;
  }
  out = std::move(parsed).value();
}

void JsonDecoder::read(const Json& j, const FieldPath& path, Timestamp& out) {
  if (!j.is_string()) return type_error(path, "an RFC 3339 timestamp string", j);
  auto parsed = parse_rfc3339(j.get_ref<const std::string&>());
  if (!parsed.ok()) {
    report_.errors.push_back({FieldErrorType::kInvalid, path.str(), parsed.status().message()});
    return;
  }
  out = *parsed;
}

void JsonDecoder::read(const Json& j, const FieldPath& path, Quantity& out) {
  std::string text;
  if (j.is_string()) {
    text = j.get<std::string>();
  } else if (j.is_number()) {
    text = j.dump();
  } else {
    return type_error(path, "a quantity such as \"64Mi\"", j);
  }
  auto parsed = Quantity::parse(text);
  if (!parsed.ok()) {
    report_.errors.push_back({FieldErrorType::kInvalid, path.str(), parsed.status().message()});
    return;
  }
  out = std::move(parsed).value();
}

void JsonDecoder::read(const Json& j, const FieldPath& path,
                       std::map<std::string, std::string>& out) {
  if (!j.is_object()) return type_error(path, "an object of strings", j);
  out.clear();
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string()) {
      type_error(path.key(key), "a string", value);
      continue;
    }
    out[key] = value.get<std::string>();
  }
}

bool json_nesting_exceeds(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

Json JsonEncoder::write(const std::map<std::string, std::string>& v) const {
  Json out = Json::object();
  for (const auto& [key, value] : v) out[key] = value;
  return out;
}

bool JsonEncoder::omitted(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return true;
    case Json::value_t::string:
      return j.get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object:
      return j.empty();
    case Json::value_t::number_integer:
      return j.get<int64_t>() == 0;
    case Json::value_t::number_unsigned:
      return j.get<uint64_t>() == 0;
    case Json::value_t::boolean:
      return !j.get<bool>();
    default:
      return false;
  }
}

}  // namespace solti
