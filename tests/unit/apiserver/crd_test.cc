#include "apiserver/crd.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "apiserver/resources.h"
#include "model/yaml.h"

namespace solti::api {
namespace {

// Every schema node has a type (or is int-or-string / preserves unknown
// fields), as a structural CRD schema must.
void expect_structural(const Json& schema, const std::string& path) {
  ASSERT_TRUE(schema.is_object()) << path;
  bool typed = schema.contains("type") || schema.value("x-kubernetes-int-or-string", false);
  EXPECT_TRUE(typed) << path << " has no type";
  EXPECT_FALSE(schema.contains("x-kubernetes-group-version-kind")) << path;
  if (schema.contains("properties")) {
    for (const auto& [name, child] : schema["properties"].items())
      expect_structural(child, path + "." + name);
  }
  if (schema.contains("items")) expect_structural(schema["items"], path + "[]");
}

// What a Kubernetes API server would check of a manifest against the CRD
// schema: types, enums and (with kubectl's strict validation) unknown fields.
void expect_conforms(const Json& value, const Json& schema, const std::string& path) {
  if (schema.value("x-kubernetes-int-or-string", false)) {
    EXPECT_TRUE(value.is_number_integer() || value.is_string()) << path;
    return;
  }
  if (schema.value("x-kubernetes-preserve-unknown-fields", false)) return;
  const std::string type = schema.value("type", "");
  if (type == "object") {
    ASSERT_TRUE(value.is_object()) << path;
    for (const auto& [name, child] : value.items()) {
      if (schema.contains("additionalProperties")) {
        expect_conforms(child, schema["additionalProperties"], path + "." + name);
      } else if (schema.contains("properties")) {
        ASSERT_TRUE(schema["properties"].contains(name)) << "unknown field " << path << "." << name;
        expect_conforms(child, schema["properties"][name], path + "." + name);
      }
    }
  } else if (type == "array") {
    ASSERT_TRUE(value.is_array()) << path;
    for (size_t i = 0; i < value.size(); ++i)
      expect_conforms(value[i], schema["items"], path + "[" + std::to_string(i) + "]");
  } else if (type == "string") {
    EXPECT_TRUE(value.is_string()) << path;
    if (schema.contains("enum")) {
      EXPECT_NE(std::find(schema["enum"].begin(), schema["enum"].end(), value),
                schema["enum"].end())
          << path;
    }
  } else if (type == "integer") {
    EXPECT_TRUE(value.is_number_integer()) << path;
  } else if (type == "number") {
    EXPECT_TRUE(value.is_number()) << path;
  } else if (type == "boolean") {
    EXPECT_TRUE(value.is_boolean()) << path;
  }
}

TEST(CrdTest, EveryExampleManifestConformsToTheCrdSchema) {
  Json crd = custom_resource_definition(*make_task_strategy());
  const Json& schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
  size_t checked = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(SOLTI_SOURCE_DIR) + "/manifests/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    auto docs = parse_yaml(text.str());
    ASSERT_TRUE(docs.ok()) << entry.path();
    for (const auto& doc : *docs) {
      expect_conforms(doc.value, schema, entry.path().filename().string());
      ++checked;
    }
  }
  EXPECT_GE(checked, 8u);
}

TEST(CrdTest, CommittedCrdMatchesTheGeneratedOne) {
  std::ifstream in(std::string(SOLTI_SOURCE_DIR) + "/manifests/crd/tasks.solti.io.yaml");
  std::stringstream text;
  text << in.rdbuf();
  auto docs = parse_yaml(text.str());
  ASSERT_TRUE(docs.ok()) << docs.status().to_string();
  ASSERT_EQ(docs->size(), 1u);
  Json generated = custom_resource_definition(*make_task_strategy());
  EXPECT_EQ((*docs)[0].value, generated)
      << "run: build/cmd/soltid --print-crd > manifests/crd/tasks.solti.io.yaml";
}

TEST(CrdTest, SchemaIsStructuralWithStatusSubresourceAndColumns) {
  Json crd = custom_resource_definition(*make_task_strategy());
  EXPECT_EQ(crd["metadata"]["name"], "tasks.solti.io");
  EXPECT_EQ(crd["spec"]["names"]["shortNames"], Json::array({"tk"}));
  const Json& version = crd["spec"]["versions"][0];
  EXPECT_TRUE(version["subresources"].contains("status"));
  const Json& schema = version["schema"]["openAPIV3Schema"];
  expect_structural(schema, "");
  EXPECT_EQ(schema["properties"]["metadata"], Json({{"type", "object"}}));
  EXPECT_EQ(schema["properties"]["spec"]["properties"]["backoff"]["properties"]["jitter"]["enum"],
            Json::array({"None", "Full", "Equal", "Decorrelated"}));
  std::vector<std::string> columns;
  for (const auto& c : version["additionalPrinterColumns"]) columns.push_back(c["name"]);
  EXPECT_EQ(columns, (std::vector<std::string>{"Slot", "Phase", "Attempt", "Exit", "Age", "Restart",
                                               "Reason"}));
}

}  // namespace
}  // namespace solti::api
