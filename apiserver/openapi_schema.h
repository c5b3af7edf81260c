// OpenAPI v3 schemas of model types, generated from their SOLTI_FIELDS
// lists (the third visitor after the JSON decoder and encoder), so that
// kubectl explain and client-side validation always match the model.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/duration.h"
#include "model/fields.h"
#include "model/json_codec.h"
#include "model/quantity.h"
#include "model/timestamp.h"

namespace solti::api {

class SchemaBuilder {
 public:
  Json of(const std::string*) const { return {{"type", "string"}}; }
  Json of(const bool*) const { return {{"type", "boolean"}}; }
  Json of(const int64_t*) const { return {{"type", "integer"}, {"format", "int64"}}; }
  Json of(const double*) const { return {{"type", "number"}, {"format", "double"}}; }
  // Durations are Go-style strings such as "30s" or "1h30m".
  Json of(const Duration*) const { return {{"type", "string"}}; }
  Json of(const Timestamp*) const { return {{"type", "string"}, {"format", "date-time"}}; }
  Json of(const Quantity*) const {
    return {{"x-kubernetes-int-or-string", true},
            {"anyOf", Json::array({{{"type", "integer"}}, {{"type", "string"}}})}};
  }
  Json of(const Json*) const {
    return {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  }
  Json of(const std::map<std::string, std::string>*) const {
    return {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}};
  }
  template <WireEnum E>
  Json of(const E*) const {
    Json values = Json::array();
    for (const auto& [v, name] : EnumNames<E>::values) values.push_back(name);
    return {{"type", "string"}, {"enum", values}};
  }
  template <class T>
  Json of(const std::optional<T>*) const {
    return of(static_cast<const T*>(nullptr));
  }
  template <class T>
  Json of(const std::vector<T>*) const {
    return {{"type", "array"}, {"items", of(static_cast<const T*>(nullptr))}};
  }
  template <codec_detail::Described T>
  Json of(const T*) const {
    Json properties = Json::object();
    T probe{};
    auto visitor = [&](std::string_view name, const auto& field, std::string_view description) {
      Json schema = of(&field);
      if (!description.empty()) schema["description"] = std::string(description);
      properties[std::string(name)] = std::move(schema);
    };
    visit_fields(visitor, static_cast<const T&>(probe));
    return {{"type", "object"}, {"properties", std::move(properties)}};
  }
};

template <class T>
Json schema_of() {
  return SchemaBuilder().of(static_cast<const T*>(nullptr));
}

}  // namespace solti::api
