#include "model/yaml.h"

#include <gtest/gtest.h>

#include <cmath>

namespace solti {
namespace {

Json one(std::string_view text) {
  auto docs = parse_yaml(text);
  EXPECT_TRUE(docs.ok()) << docs.status().message();
  if (!docs.ok() || docs->size() != 1) {
    ADD_FAILURE() << "expected one document";
    return nullptr;
  }
  return (*docs)[0].value;
}

std::string error_of(std::string_view text) {
  auto docs = parse_yaml(text);
  EXPECT_FALSE(docs.ok()) << text;
  return docs.ok() ? "" : docs.status().message();
}

TEST(YamlTest, ResolvesScalarsByTheCoreSchema) {
  Json j =
      one("a: 12\nb: -3\nc: 1.5\nd: true\ne: ~\nf: yes\ng: '12'\nh: \"true\"\ni: 0x1f\nj: 0o17\n"
          "k: 1e3\nl: on\nm: null\nn:\no: 30s\np: .inf\nq: 99999999999999999999\n");
  EXPECT_EQ(j["a"], 12);
  EXPECT_EQ(j["b"], -3);
  EXPECT_EQ(j["c"], 1.5);
  EXPECT_EQ(j["d"], true);
  EXPECT_TRUE(j["e"].is_null());
  EXPECT_EQ(j["f"], "yes");  // YAML 1.1's booleans stay strings
  EXPECT_EQ(j["g"], "12");
  EXPECT_EQ(j["h"], "true");
  EXPECT_EQ(j["i"], 31);
  EXPECT_EQ(j["j"], 15);
  EXPECT_EQ(j["k"], 1000.0);
  EXPECT_EQ(j["l"], "on");
  EXPECT_TRUE(j["m"].is_null());
  EXPECT_TRUE(j["n"].is_null());
  EXPECT_EQ(j["o"], "30s");
  EXPECT_TRUE(std::isinf(j["p"].get<double>()));
  EXPECT_TRUE(j["q"].is_number_float());
}

TEST(YamlTest, KeepsKeyOrderAndBlockScalars) {
  Json j = one("z: 1\na: 2\nbody: |\n  line one\n  line two\n");
  EXPECT_EQ(j.dump(), R"({"z":1,"a":2,"body":"line one\nline two\n"})");
}

TEST(YamlTest, ReadsMultipleDocumentsAndSkipsEmptyOnes) {
  auto docs = parse_yaml("---\na: 1\n---\n---\nb: 2\n...\n---\n");
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0].value["a"], 1);
  EXPECT_EQ((*docs)[1].value["b"], 2);
  EXPECT_EQ((*docs)[1].start.line, 5);
  EXPECT_TRUE(parse_yaml("")->empty());
  EXPECT_TRUE(parse_yaml("# only a comment\n")->empty());
}

TEST(YamlTest, ReadsJsonToo) {
  Json j = one(R"({"kind": "Task", "spec": {"args": ["a", 1]}})");
  EXPECT_EQ(j["spec"]["args"][1], 1);
}

TEST(YamlTest, SyntaxErrorsCarryLineAndColumn) {
  EXPECT_EQ(error_of("a: 1\nb: [x\n"), "line 3, column 1: end of sequence flow not found");
  EXPECT_EQ(error_of("a: 1\n  b: 2\n"), "line 2, column 4: illegal map value");
  EXPECT_EQ(error_of("a: 1\nb: 2\na: 3\n"),
            R"(line 3, column 1: duplicate key "a" (first defined at line 1))");
  EXPECT_EQ(error_of("? [a]\n: 1\n"), "line 1, column 3: mapping keys must be strings");
}

TEST(YamlTest, RefusesAliasBombsButAllowsModestAliases) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'g'; ++c) {
    std::string prev(1, char(c - 1));
    bomb += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
            prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + "]\n";
  }
  EXPECT_NE(error_of(bomb).find("too many alias references"), std::string::npos);
  // The budget is shared across documents, so splitting the bomb does not help.
  std::string split =
      "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n";
  EXPECT_TRUE(parse_yaml(split).ok());  // one modest expansion fits the slack
  std::string many;
  for (int i = 0; i < 200; ++i) many += "---\n" + split;
  EXPECT_NE(error_of(many).find("too many alias references"), std::string::npos);
  Json j = one("base: &b {x: 1}\nuse: *b\n");
  EXPECT_EQ(j["use"]["x"], 1);
}

// yaml-cpp 0.7's LoadAll looped forever, growing without bound, on these
// (found by tests/fuzz/manifest_yaml_fuzzer.cc).
TEST(YamlTest, RefusesTokensNoNodeCanStartWithoutHanging) {
  EXPECT_EQ(error_of(","), "line 1, column 1: unexpected character: no node can start here");
  EXPECT_EQ(error_of("a: 1\n---\n,\n"),
            "line 3, column 1: unexpected character: no node can start here");
  EXPECT_NE(error_of("[a],").find("no node can start here"), std::string::npos);
  EXPECT_EQ(parse_yaml("---\n---\n---\na: 1\n")->size(), 1u);  // empty documents still go
}

TEST(YamlTest, RefusesDocumentsNestedTooDeeply) {
  std::string deep;
  for (int i = 0; i < 150; ++i) deep += std::string(size_t(i) * 2, ' ') + "k:\n";
  EXPECT_NE(error_of(deep).find("nested deeper than 100 levels"), std::string::npos);
  EXPECT_NE(
      error_of(std::string(150, '[') + std::string(150, ']')).find("nested deeper than 100 levels"),
      std::string::npos);
  EXPECT_TRUE(parse_yaml(std::string(50, '[') + std::string(50, ']')).ok());
}

TEST(YamlTest, RecordsWhereEveryFieldIsWritten) {
  auto docs =
      parse_yaml("a:\n  b:\n    - name: x\n      value: y\n  labels:\n    example.com/k: v\n");
  ASSERT_TRUE(docs.ok());
  const auto& doc = (*docs)[0];
  EXPECT_EQ(doc.position_of("a.b[0].value").to_string(), "4:7");
  EXPECT_EQ(doc.position_of("a.b[0]").to_string(), "3:7");
  EXPECT_EQ(doc.position_of("a.labels[example.com/k]").to_string(), "6:5");
  EXPECT_EQ(doc.position_of("a.b[0].missing").to_string(), "3:7");  // nearest written ancestor
  EXPECT_EQ(doc.position_of("nowhere").to_string(), "1:1");
}

TEST(YamlTest, SplitsFieldPaths) {
  EXPECT_EQ(split_field_path("spec.env[2].name"),
            (std::vector<std::string>{"spec", "env", "2", "name"}));
  EXPECT_EQ(split_field_path("metadata.labels[a.b/c]"),
            (std::vector<std::string>{"metadata", "labels", "a.b/c"}));
  EXPECT_TRUE(split_field_path("").empty());
}

TEST(YamlTest, EmitsYamlThatReadsBackAsTheSameJson) {
  Json original = Json::parse(R"({
    "plain": "hello world", "looks_bool": "true", "looks_int": "123", "looks_float": "1.5",
    "looks_null": "null", "empty": "", "tilde": "~", "leading_space": " x", "colon": "a: b",
    "hash": "a #b", "dash": "- x", "star": "*x", "quote": "it's \"quoted\"",
    "script": "set -e\necho hi\n", "no_final_newline": "a\nb", "two_newlines": "a\n\n",
    "trailing_space_line": "a \nb\n", "tab": "a\tb", "unicode": "grüße ✓",
    "int": 42, "neg": -7, "float": 2.0, "small": 1e-7, "bool": false, "null": null,
    "list": [1, "two", {"three": 3}], "empty_list": [], "empty_map": {},
    "nested": {"deep": {"deeper": ["a", ["b"]]}}, "yes": "yes", "0x10": "0x10"
  })");
  std::string text = to_yaml(original);
  Json back = one(text);
  EXPECT_EQ(back, original) << text;
  EXPECT_NE(text.find("script: |\n  set -e\n  echo hi\n"), std::string::npos) << text;
}

// A plain "..." at the start of a line is the document end marker (found by
// tests/fuzz/manifest_yaml_fuzzer.cc).
TEST(YamlTest, QuotesStringsThatWouldEndTheDocument) {
  for (const Json& original : {Json("... x"), Json{{"... x", 1}, {"...", "..."}}}) {
    const std::string text = to_yaml(original);
    EXPECT_EQ(one(text), original) << text;
  }
}

}  // namespace
}  // namespace solti
