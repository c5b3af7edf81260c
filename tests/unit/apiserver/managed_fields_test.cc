#include "apiserver/managed_fields.h"

#include <gtest/gtest.h>

namespace solti::api {
namespace {

ManagerContext as(const std::string& manager) {
  return {manager, "solti.io/v1", false, Timestamp(std::chrono::seconds(1767225600))};
}

Json config(const std::string& timeout, Json labels = {{"team", "a"}}) {
  return {
      {"apiVersion", "solti.io/v1"},
      {"kind", "Task"},
      {"metadata", {{"name", "t"}, {"namespace", "default"}, {"labels", labels}}},
      {"spec",
       {{"timeout", timeout}, {"subprocess", {{"command", "/bin/true"}, {"args", {"a", "b"}}}}}}};
}

std::vector<std::string> managers(const Json& object) {
  std::vector<std::string> out;
  for (const auto& e : object["metadata"].value("managedFields", Json::array()))
    out.push_back(e["manager"]);
  return out;
}

FieldSet owned_by(const Json& object, const std::string& manager) {
  for (const auto& e : object["metadata"]["managedFields"]) {
    if (e["manager"] == manager) return decode_fields_v1(e["fieldsV1"]);
  }
  return {};
}

TEST(ManagedFieldsTest, FieldSetsTrackUserFieldsOnly) {
  Json object = config("10s");
  object["metadata"]["uid"] = "u";
  object["metadata"]["resourceVersion"] = "3";
  object["status"] = {{"phase", "Running"}};
  FieldSet main = field_set(object, false);
  EXPECT_EQ(main, (FieldSet{{"metadata", "labels", "team"},
                            {"spec", "subprocess", "args"},  // lists are atomic
                            {"spec", "subprocess", "command"},
                            {"spec", "timeout"}}));
  EXPECT_EQ(field_set(object, true), (FieldSet{{"status", "phase"}}));
  EXPECT_EQ(decode_fields_v1(encode_fields_v1(main)), main);
  EXPECT_EQ(encode_fields_v1(FieldSet{FieldPathSegments{"spec", "timeout"}}).dump(),
            R"({"f:spec":{"f:timeout":{}}})");
}

TEST(ManagedFieldsTest, ApplyCreatesAndRecordsOwnership) {
  auto created = apply_configuration(Json(), config("10s"), as("kubectl"), false);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ((*created)["spec"]["timeout"], "10s");
  ASSERT_EQ(managers(*created), std::vector<std::string>{"kubectl"});
  EXPECT_EQ((*created)["metadata"]["managedFields"][0]["operation"], "Apply");
  EXPECT_EQ(owned_by(*created, "kubectl").size(), 4u);
  // The same apply again changes nothing, timestamps included.
  ManagerContext later = as("kubectl");
  later.now += std::chrono::hours(1);
  auto again = apply_configuration(*created, config("10s"), later, false);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *created);
}

TEST(ManagedFieldsTest, AnotherManagersDifferentValueIsAConflict) {
  Json live = *apply_configuration(Json(), config("10s"), as("kubectl"), false);
  auto conflict = apply_configuration(live, config("20s"), as("other"), false);
  ASSERT_EQ(conflict.status().code(), StatusCode::kConflict);
  EXPECT_EQ(
      conflict.status().message(),
      "Apply failed with 1 conflict: conflict with \"kubectl\" using solti.io/v1: .spec.timeout");
  ASSERT_EQ(conflict.status().causes().size(), 1u);
  EXPECT_EQ(conflict.status().causes()[0].reason(), "FieldManagerConflict");
  EXPECT_EQ(conflict.status().causes()[0].field, ".spec.timeout");

  auto two = apply_configuration(live, config("20s", {{"team", "b"}}), as("other"), false);
  EXPECT_EQ(two.status().message(),
            "Apply failed with 2 conflicts: conflicts with \"kubectl\" using solti.io/v1:\n- "
            ".metadata.labels.team\n- "
            ".spec.timeout");
}

TEST(ManagedFieldsTest, EqualValuesAreCoOwnedAndForceTakesOnlyTheContested) {
  Json live = *apply_configuration(Json(), config("10s"), as("kubectl"), false);
  auto shared = apply_configuration(live, config("10s"), as("other"), false);
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(owned_by(*shared, "other"), owned_by(*shared, "kubectl"));

  auto forced = apply_configuration(live, config("20s"), as("other"), true);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ((*forced)["spec"]["timeout"], "20s");
  FieldSet kubectl = owned_by(*forced, "kubectl");
  EXPECT_FALSE(kubectl.count({"spec", "timeout"}));
  EXPECT_TRUE(kubectl.count({"spec", "subprocess", "command"}));  // still shared
  EXPECT_TRUE(owned_by(*forced, "other").count({"spec", "timeout"}));
}

TEST(ManagedFieldsTest, FieldsDroppedFromTheConfigurationAreRemovedUnlessOwnedElsewhere) {
  Json live = *apply_configuration(Json(), config("10s", {{"team", "a"}, {"tier", "gold"}}),
                                   as("kubectl"), false);
  auto dropped = apply_configuration(live, config("10s", {{"team", "a"}}), as("kubectl"), false);
  ASSERT_TRUE(dropped.ok());
  EXPECT_FALSE((*dropped)["metadata"]["labels"].contains("tier"));

  Json shared = *apply_configuration(live, config("10s", {{"team", "a"}, {"tier", "gold"}}),
                                     as("other"), false);
  auto kept = apply_configuration(shared, config("10s", {{"team", "a"}}), as("kubectl"), false);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ((*kept)["metadata"]["labels"]["tier"], "gold");  // "other" still owns it
}

TEST(ManagedFieldsTest, UpdatesTakeTheFieldsTheyChange) {
  Json live = *apply_configuration(Json(), config("10s"), as("kubectl"), false);
  Json updated = live;
  updated["spec"]["timeout"] = "30s";
  record_update(live, updated, as("editor"));
  EXPECT_EQ(owned_by(updated, "editor"), (FieldSet{{"spec", "timeout"}}));
  EXPECT_FALSE(owned_by(updated, "kubectl").count({"spec", "timeout"}));
  EXPECT_EQ(updated["metadata"]["managedFields"][1]["operation"], "Update");
  // Now the applier conflicts with the editor on the field it changed.
  auto conflict = apply_configuration(updated, config("10s"), as("kubectl"), false);
  EXPECT_EQ(conflict.status().code(), StatusCode::kConflict);
  // A write that changes nothing adds no manager.
  Json unchanged = updated;
  record_update(updated, unchanged, as("noop"));
  EXPECT_EQ(unchanged, updated);
}

}  // namespace
}  // namespace solti::api
