#include "kubectl-like/jsonpath.h"

#include <gtest/gtest.h>

namespace solti::ctl {
namespace {

const Json kList = Json::parse(R"({
  "kind": "TaskList",
  "items": [
    {"metadata": {"name": "a", "labels": {"solti.io/slot": "s1", "app": "web"}},
     "status": {"phase": "Succeeded", "exitCode": 0, "attempt": 1}},
    {"metadata": {"name": "b", "labels": {"app": "db"}},
     "status": {"phase": "Failed", "exitCode": 3, "attempt": 4}},
    {"metadata": {"name": "c"}, "status": {"phase": "Running", "attempt": 2}}
  ]
})");

std::string run(const std::string& text, const Json& root = kList) {
  auto path = JsonPath::parse(text);
  EXPECT_TRUE(path.ok()) << text << ": " << path.status().message();
  return path.ok() ? path->execute(root) : "<parse error>";
}

std::string parse_error(const std::string& text) {
  auto path = JsonPath::parse(text);
  return path.ok() ? "<parsed>" : path.status().message();
}

TEST(JsonPathTest, FieldsWildcardsAndIndexes) {
  EXPECT_EQ(run("{.kind}"), "TaskList");
  EXPECT_EQ(run("{$.kind}"), "TaskList");
  EXPECT_EQ(run("{.items[*].metadata.name}"), "a b c");
  EXPECT_EQ(run("{.items[0].metadata.name}"), "a");
  EXPECT_EQ(run("{.items[-1].metadata.name}"), "c");
  EXPECT_EQ(run("{.items[0,2].metadata.name}"), "a c");
  EXPECT_EQ(run("{.items[7].metadata.name}"), "");
  EXPECT_EQ(run("{.items[0].status.exitCode}"), "0");
  EXPECT_EQ(run("{.items[1].metadata.labels}"), R"({"app":"db"})");
  EXPECT_EQ(run("{.items[0].metadata.*}"), R"(a {"solti.io/slot":"s1","app":"web"})");
}

TEST(JsonPathTest, SlicesFollowPythonBounds) {
  EXPECT_EQ(run("{.items[0:2].metadata.name}"), "a b");
  EXPECT_EQ(run("{.items[1:].metadata.name}"), "b c");
  EXPECT_EQ(run("{.items[:-1].metadata.name}"), "a b");
  EXPECT_EQ(run("{.items[::2].metadata.name}"), "a c");
  EXPECT_EQ(run("{.items[5:9].metadata.name}"), "");
}

TEST(JsonPathTest, NamesWithDotsAreQuotedOrEscaped) {
  EXPECT_EQ(run("{.items[0].metadata.labels['solti.io/slot']}"), "s1");
  EXPECT_EQ(run(R"({.items[0].metadata.labels.solti\.io/slot})"), "s1");
  EXPECT_EQ(run(R"({.items[0].metadata.labels["app","solti.io/slot"]})"), "web s1");
}

TEST(JsonPathTest, FiltersCompareStringsAndNumbersAndTestPresence) {
  EXPECT_EQ(run(R"({.items[?(@.status.phase=="Failed")].metadata.name})"), "b");
  EXPECT_EQ(run(R"({.items[?(@.status.phase != 'Failed')].metadata.name})"), "a c");
  EXPECT_EQ(run("{.items[?(@.status.attempt > 1)].metadata.name}"), "b c");
  EXPECT_EQ(run("{.items[?(@.status.attempt <= 2)].metadata.name}"), "a c");
  EXPECT_EQ(run("{.items[?(@.status.exitCode)].metadata.name}"), "a b");
  EXPECT_EQ(run("{.items[?(@.metadata.labels.app == @.metadata.name)].metadata.name}"), "");
  EXPECT_EQ(run(R"({.items[?(@.status.attempt > "1")].metadata.name})"), "");  // no mixing
}

TEST(JsonPathTest, RecursiveDescentFindsEveryMatch) {
  EXPECT_EQ(run("{..name}"), "a b c");
  EXPECT_EQ(run("{..app}"), "web db");
}

TEST(JsonPathTest, RangeLiteralsAndText) {
  EXPECT_EQ(run(R"({range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end})"),
            "a\tSucceeded\nb\tFailed\nc\tRunning\n");
  EXPECT_EQ(run("{range .items}[{.metadata.name}]{end}"), "[a][b][c]");
  EXPECT_EQ(run("names: {.items[*].metadata.name}."), "names: a b c.");
  EXPECT_EQ(run(R"({range .items[*]}{range .metadata.labels.*}<{@}>{end}{end})"), "<s1><web><db>");
  EXPECT_EQ(run(R"({"}"}{'{'})"), "}{");
  EXPECT_EQ(run("{.}", Json("x")), "x");
}

TEST(JsonPathTest, MistakesNameTheirPlace) {
  EXPECT_EQ(parse_error("{.items[*]"), "jsonpath: unclosed '{' at character 1");
  EXPECT_EQ(parse_error("{range .items[*]}{.x}"), "jsonpath: 'range' without 'end' at character 1");
  EXPECT_EQ(parse_error("{.x}{end}"), "jsonpath: 'end' without 'range' at character 5");
  EXPECT_EQ(parse_error("{.items[0}"), "jsonpath: unclosed '[' at character 8");
  EXPECT_EQ(parse_error("{.items[a]}"), "jsonpath: unexpected 'a' in brackets at character 9");
  EXPECT_EQ(parse_error("{metadata}"), "jsonpath: unexpected 'm' at character 2");
  EXPECT_EQ(parse_error("{.items[::0]}"),
            "jsonpath: a slice's stride must be positive at character 12");
  EXPECT_EQ(parse_error("{.items[?(.x)]}"),
            "jsonpath: a filter must start with @ or $ at character 11");
  EXPECT_EQ(parse_error("{}"), "jsonpath: an empty expression at character 1");
  EXPECT_EQ(parse_error(R"({"abc})"), "jsonpath: unclosed '{' at character 1");
}

}  // namespace
}  // namespace solti::ctl
