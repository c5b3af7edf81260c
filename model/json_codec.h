// JSON <-> model, driven by each type's SOLTI_FIELDS list.
//
// Decoding never throws and never stops at the first problem: type errors go
// to DecodeReport::errors and fields the model does not know go to
// DecodeReport::unknown_fields, both with their paths, so that the API can
// apply fieldValidation=Strict|Warn|Ignore. JSON null means "absent".
//
// Encoding omits absent optionals, empty strings, empty lists and maps, zero
// integers that are not optional, and objects that end up empty (Kubernetes'
// omitempty), and keeps the field order of SOLTI_FIELDS.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/duration.h"
#include "model/field_error.h"
#include "model/fields.h"
#include "model/object_meta.h"
#include "model/quantity.h"
#include "model/timestamp.h"

namespace solti {

// The one text form of JSON on the wire and in the store: compact, with
// invalid UTF-8 replaced rather than thrown on.
std::string json_text(const Json& j);

// An object's identity read from its JSON text without building the tree:
// the parse stops where `metadata` ends, which the encoder writes before
// spec and status. Empty fields when absent; nullopt when the text is not
// JSON up to there.
struct ObjectIdentity {
  std::string namespace_;
  std::string name;
  std::string resource_version;
};
std::optional<ObjectIdentity> read_identity(std::string_view json);

struct DecodeReport {
  FieldErrors errors;
  std::vector<std::string> unknown_fields;  // paths, e.g. "spec.subprocess.comand"
  bool ok() const { return errors.empty(); }
};

namespace codec_detail {

// A visitor that accepts any field, used only to detect SOLTI_FIELDS types.
struct FieldProbe {
  template <class F>
  void operator()(std::string_view, F&, std::string_view) {}
};

template <class T>
concept Described = requires(FieldProbe& probe, T& value) {
  visit_fields(probe, value);
};

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

std::string json_type_name(const Json& j);
std::string short_dump(const Json& j);

}  // namespace codec_detail

class JsonDecoder {
 public:
  explicit JsonDecoder(DecodeReport& report) : report_(report) {}

  void read(const Json& j, const FieldPath& path, std::string& out);
  void read(const Json& j, const FieldPath& path, bool& out);
  void read(const Json& j, const FieldPath& path, int64_t& out);
  void read(const Json& j, const FieldPath& path, double& out);
  void read(const Json& j, const FieldPath& path, Duration& out);
  void read(const Json& j, const FieldPath& path, Timestamp& out);
  void read(const Json& j, const FieldPath& path, Quantity& out);
  void read(const Json& j, const FieldPath&, Json& out) { out = j; }
  void read(const Json& j, const FieldPath& path, std::map<std::string, std::string>& out);

  template <WireEnum E>
  void read(const Json& j, const FieldPath& path, E& out) {
    if (!j.is_string()) return type_error(path, "a string", j);
    const auto& text = j.get_ref<const std::string&>();
    if (auto value = enum_from_name<E>(text)) {
      out = *value;
      return;
    }
    std::string supported;
    for (const auto& [v, name] : EnumNames<E>::values) {
      if (!supported.empty()) supported += ", ";
      supported += '"';
      supported += name;
      supported += '"';
    }
    report_.errors.push_back({FieldErrorType::kNotSupported, path.str(),
                              "unsupported value \"" + text + "\" (supported: " + supported + ")"});
  }

  template <class T>
  void read(const Json& j, const FieldPath& path, std::optional<T>& out) {
    if (j.is_null()) return;
    const size_t errors_before = report_.errors.size();
    out.emplace();
    read(j, path, *out);
    // A leaf value that failed to decode is absent, not a default in
    // disguise; an object keeps what did decode so that its other fields are
    // still validated.
    if constexpr (!codec_detail::Described<T>) {
      if (report_.errors.size() != errors_before) out.reset();
    }
  }

  template <class T>
  void read(const Json& j, const FieldPath& path, std::vector<T>& out) {
    if (!j.is_array()) return type_error(path, "a list", j);
    out.clear();
    out.resize(j.size());
    for (size_t i = 0; i < j.size(); ++i) read(j[i], path.index(i), out[i]);
  }

  template <codec_detail::Described T>
  void read(const Json& j, const FieldPath& path, T& out) {
    if (!j.is_object()) return type_error(path, "an object", j);
    // Unknown keys of this object first, so that paths come parent-first.
    std::vector<std::string_view> known;
    auto names = [&](std::string_view name, auto&, std::string_view) { known.push_back(name); };
    visit_fields(names, out);
    for (const auto& [key, value] : j.items()) {
      bool is_known = false;
      for (auto k : known) is_known = is_known || k == key;
      if (!is_known) report_.unknown_fields.push_back(path.child(key).str());
    }
    auto decode = [&](std::string_view name, auto& field, std::string_view) {
      auto it = j.find(name);
      if (it != j.end() && !it->is_null()) read(*it, path.child(name), field);
    };
    visit_fields(decode, out);
  }

 private:
  void type_error(const FieldPath& path, std::string_view expected, const Json& got);

  DecodeReport& report_;
};

class JsonEncoder {
 public:
  Json write(const std::string& v) const { return v; }
  Json write(bool v) const { return v; }
  Json write(int64_t v) const { return v; }
  Json write(double v) const { return v; }
  Json write(const Duration& v) const { return v.text(); }
  Json write(Timestamp v) const { return format_rfc3339(v); }
  Json write(const Quantity& v) const { return v.text(); }
  Json write(const Json& v) const { return v; }
  Json write(const std::map<std::string, std::string>& v) const;

  template <WireEnum E>
  Json write(E v) const {
    return std::string(enum_name(v));
  }

  template <class T>
  Json write(const std::vector<T>& v) const {
    Json out = Json::array();
    for (const auto& item : v) out.push_back(write(item));
    return out;
  }

  template <codec_detail::Described T>
  Json write(const T& value) const {
    Json out = Json::object();
    auto visitor = [&](std::string_view name, const auto& field, std::string_view) {
      using F = std::remove_cvref_t<decltype(field)>;
      if constexpr (codec_detail::IsOptional<F>::value) {
        if (field) out[std::string(name)] = write(*field);
      } else {
        Json j = write(field);
        if (!omitted(j)) out[std::string(name)] = std::move(j);
      }
    };
    visit_fields(visitor, value);
    return out;
  }

 private:
  // omitempty for non-optional fields.
  static bool omitted(const Json& j);
};

// The deepest nesting a request document may have. Solti's objects are about
// ten levels deep; much deeper documents are attacks: copying such a DOM
// recurses once per level and can exhaust the stack.
inline constexpr size_t kMaxDocumentDepth = 100;

// True when the JSON text nests objects and arrays deeper than `max_depth`
// (a linear scan that skips strings; the text need not be valid JSON).
bool json_nesting_exceeds(std::string_view text, size_t max_depth = kMaxDocumentDepth);

// Convenience wrappers.
template <class T>
T decode_json(const Json& j, DecodeReport& report, const FieldPath& root = FieldPath()) {
  T value{};
  JsonDecoder(report).read(j, root, value);
  return value;
}

template <class T>
Json encode_json(const T& value) {
  return JsonEncoder().write(value);
}

}  // namespace solti
