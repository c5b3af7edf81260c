#include "model/json_codec.h"

#include <cmath>
#include <limits>

namespace solti {
std::string json_text(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

namespace {

// Reads top-level metadata's identity fields and stops at its end.
class IdentityReader {
 public:
  explicit IdentityReader(ObjectIdentity& out) : out_(out) {}
  bool finished() const { return finished_; }

  bool null() { return value(); }
  bool boolean(bool) { return value(); }
  bool number_integer(Json::number_integer_t) { return value(); }
  bool number_unsigned(Json::number_unsigned_t) { return value(); }
  bool number_float(Json::number_float_t, const std::string&) { return value(); }
  bool binary(Json::binary_t&) { return value(); }
  bool string(std::string& text) {
    if (target_) *target_ = std::move(text);
    return value();
  }
  bool start_object(std::size_t) {
    if (depth_ == 1 && key_is_metadata_) in_metadata_ = true;
    ++depth_;
    return value();
  }
  bool end_object() {
    --depth_;
    if (in_metadata_ && depth_ == 1) {
      finished_ = true;
      return false;  // the rest of the text is not needed
    }
    return true;
  }
  bool start_array(std::size_t) {
    ++depth_;
    return value();
  }
  bool end_array() {
    --depth_;
    return true;
  }
  bool key(std::string& name) {
    key_is_metadata_ = depth_ == 1 && name == "metadata";
    target_ = nullptr;
    if (in_metadata_ && depth_ == 2) {
      if (name == "namespace") target_ = &out_.namespace_;
      if (name == "name") target_ = &out_.name;
      if (name == "resourceVersion") target_ = &out_.resource_version;
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  // Each value ends what the last key pointed at.
  bool value() {
    target_ = nullptr;
    key_is_metadata_ = false;
    return true;
  }

  ObjectIdentity& out_;
  int depth_ = 0;
  bool key_is_metadata_ = false;
  bool in_metadata_ = false;
  bool finished_ = false;
  std::string* target_ = nullptr;
};

}  // namespace

std::optional<ObjectIdentity> read_identity(std::string_view json) {
  ObjectIdentity identity;
  IdentityReader reader(identity);
  const bool complete = Json::sax_parse(json.begin(), json.end(), &reader,
                                        nlohmann::detail::input_format_t::json, false);
  if (!complete && !reader.finished()) return std::nullopt;
  return identity;
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
