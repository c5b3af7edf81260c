#include "apiserver/crd.h"

#include <map>

namespace solti::api {
namespace {

// CRD schemas must not describe metadata beyond its type, and must give
// every node a type; x-kubernetes-group-version-kind is not allowed.
void make_structural(Json& schema) {
  if (!schema.is_object()) return;
  schema.erase("x-kubernetes-group-version-kind");
  if (schema.contains("properties")) {
    Json& properties = schema["properties"];
    if (properties.contains("metadata")) properties["metadata"] = {{"type", "object"}};
    for (auto& [name, child] : properties.items()) make_structural(child);
  }
  if (schema.contains("items")) make_structural(schema["items"]);
  if (schema.contains("additionalProperties")) make_structural(schema["additionalProperties"]);
}

}  // namespace

Json custom_resource_definition(const Strategy& strategy) {
  const ResourceInfo& info = strategy.info();
  Json schema = strategy.openapi_schema();
  make_structural(schema);
  Json columns = Json::array();
  for (const auto& c : strategy.table_columns()) {
    std::string name = c["name"];
    if (name == "Name") continue;  // kubectl prints it anyway
    static const std::map<std::string, std::string> kPaths = {
        {"Slot", ".spec.slot"},
        {"Phase", ".status.phase"},
        {"Attempt", ".status.attempt"},
        {"Exit", ".status.exitCode"},
        {"Age", ".metadata.creationTimestamp"},
        {"Restart", ".spec.restartPolicy"},
        {"Reason", ".status.reason"}};
    auto path = kPaths.find(name);
    if (path == kPaths.end()) continue;
    Json column = {{"name", name}, {"type", c["type"]}, {"jsonPath", path->second}};
    if (c["priority"] != 0) column["priority"] = c["priority"];
    columns.push_back(std::move(column));
  }
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", info.qualified()}}},
          {"spec",
           {{"group", info.group},
            {"scope", "Namespaced"},
            {"names",
             {{"plural", info.plural},
              {"singular", info.singular},
              {"kind", info.kind},
              {"listKind", info.list_kind()},
              {"shortNames", info.short_names},
              {"categories", info.categories}}},
            {"versions", Json::array({{{"name", info.version},
                                       {"served", true},
                                       {"storage", true},
                                       {"schema", {{"openAPIV3Schema", schema}}},
                                       {"subresources", {{"status", Json::object()}}},
                                       {"additionalPrinterColumns", columns}}})}}}};
}

}  // namespace solti::api
