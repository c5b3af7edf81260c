#include "apiserver/auth.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace solti::api {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() /
              ("solti-auth-" + std::to_string(getpid()) + "-" + name);
  std::ofstream(path) << text;
  return path.string();
}

TEST(AuthTest, TokenFileParsesUsersAndQuotedGroups) {
  auto auth = TokenAuthenticator::load(
      write_temp("tokens", "# comment\nt1,alice,1001\nt2,bob,1002,\"dev,ops\"\n"));
  ASSERT_TRUE(auth.ok()) << auth.status().to_string();
  auto bob = auth->authenticate("Bearer t2");
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->name, "bob");
  EXPECT_EQ(bob->groups, (std::vector<std::string>{"dev", "ops", "system:authenticated"}));
  EXPECT_TRUE(auth->authenticate("Bearer t1"));
  EXPECT_TRUE(auth->authenticate("bearer t1"));
  EXPECT_TRUE(auth->authenticate("BEARER t1"));
  EXPECT_FALSE(auth->authenticate("Bearerst1"));
  EXPECT_FALSE(auth->authenticate("Bearer nope"));
  EXPECT_FALSE(auth->authenticate("t1"));
  EXPECT_FALSE(auth->authenticate("Basic dDE="));
  EXPECT_FALSE(auth->authenticate(""));
}

TEST(AuthTest, MalformedFilesAreRefusedWithTheirLine) {
  auto bad = TokenAuthenticator::load(write_temp("bad-tokens", "t1,alice,1\nonly-a-token\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":2: expected token,user,uid"), std::string::npos);
  EXPECT_FALSE(TokenAuthenticator::load("/nonexistent/tokens.csv").ok());
  EXPECT_FALSE(PolicyAuthorizer::load(write_temp("bad-policy", "rules: [{verbs: [get]}]\n")).ok());
  EXPECT_FALSE(PolicyAuthorizer::load(write_temp("bad-policy2", "rules: {}\n")).ok());
}

TEST(AuthTest, PolicyMatchesUsersGroupsVerbsNamespacesAndPaths) {
  auto policy = PolicyAuthorizer::load(write_temp("policy", R"(rules:
  - users: [alice]
    namespaces: [team-a]
    verbs: [get, list, watch]
    resources: [tasks]
  - groups: [ops]
    namespaces: ["*"]
    verbs: ["*"]
  - groups: [monitoring]
    nonResourceURLs: [/metrics]
)"));
  ASSERT_TRUE(policy.ok()) << policy.status().to_string();
  UserInfo alice{"alice", "1", {"system:authenticated"}};
  UserInfo ops{"olga", "2", {"ops"}};
  UserInfo monitor{"prom", "3", {"monitoring"}};
  EXPECT_TRUE(policy->allowed({&alice, "list", "tasks", "team-a", ""}));
  EXPECT_FALSE(policy->allowed({&alice, "create", "tasks", "team-a", ""}));
  EXPECT_FALSE(policy->allowed({&alice, "list", "taskruns", "team-a", ""}));
  EXPECT_FALSE(policy->allowed({&alice, "list", "tasks", "team-b", ""}));
  EXPECT_FALSE(policy->allowed({&alice, "list", "tasks", "", ""}));  // cluster-wide
  EXPECT_TRUE(policy->allowed({&ops, "deletecollection", "taskruns", "", ""}));
  EXPECT_FALSE(policy->allowed({&ops, "get", "", "", "/metrics"}));
  EXPECT_TRUE(policy->allowed({&monitor, "get", "", "", "/metrics"}));
  EXPECT_FALSE(policy->allowed({&monitor, "get", "tasks", "team-a", ""}));
  EXPECT_EQ(
      forbidden_message({&alice, "list", "tasks", "team-b", ""}, "solti.io"),
      "tasks.solti.io is forbidden: User \"alice\" cannot list resource \"tasks\" in API group "
      "\"solti.io\" in the namespace \"team-b\"");
}

}  // namespace
}  // namespace solti::api
