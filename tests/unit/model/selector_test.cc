#include <gtest/gtest.h>

#include "model/field_selector.h"
#include "model/label_selector.h"

namespace solti {
namespace {

Selector parse(std::string_view text) {
  auto s = Selector::parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status().message();
  return s.ok() ? *s : Selector();
}

std::string parse_error(std::string_view text) {
  auto s = Selector::parse(text);
  EXPECT_FALSE(s.ok()) << text;
  if (!s.ok()) {
    EXPECT_EQ(s.status().code(), StatusCode::kBadRequest);
  }
  return s.ok() ? "" : s.status().message();
}

const Labels kData = {{"team", "data"}, {"env", "prod"}, {"gpu", ""}};

TEST(LabelSelectorTest, EqualityForms) {
  EXPECT_TRUE(parse("team=data").matches(kData));
  EXPECT_TRUE(parse("team==data").matches(kData));
  EXPECT_FALSE(parse("team=web").matches(kData));
  EXPECT_TRUE(parse("team!=web").matches(kData));
  EXPECT_FALSE(parse("team!=data").matches(kData));
  // != is satisfied by an absent key, as in Kubernetes.
  EXPECT_TRUE(parse("zone!=a").matches(kData));
  // "key=" selects the empty value.
  EXPECT_TRUE(parse("gpu=").matches(kData));
  EXPECT_FALSE(parse("team=").matches(kData));
}

TEST(LabelSelectorTest, SetForms) {
  EXPECT_TRUE(parse("env in (prod,staging)").matches(kData));
  EXPECT_FALSE(parse("env in (dev)").matches(kData));
  EXPECT_FALSE(parse("zone in (a)").matches(kData));
  EXPECT_TRUE(parse("env notin (dev, staging)").matches(kData));
  EXPECT_FALSE(parse("env notin (prod)").matches(kData));
  EXPECT_TRUE(parse("zone notin (a)").matches(kData));
}

TEST(LabelSelectorTest, ExistenceForms) {
  EXPECT_TRUE(parse("gpu").matches(kData));
  EXPECT_FALSE(parse("spot").matches(kData));
  EXPECT_TRUE(parse("!spot").matches(kData));
  EXPECT_FALSE(parse("!gpu").matches(kData));
}

TEST(LabelSelectorTest, ConjunctionsWhitespaceAndEmpty) {
  EXPECT_TRUE(parse(" team = data , env in ( prod ) , !spot ").matches(kData));
  EXPECT_FALSE(parse("team=data,env=dev").matches(kData));
  EXPECT_TRUE(parse("").matches(kData));
  EXPECT_TRUE(parse("").empty());
  EXPECT_TRUE(parse("example.com/tier=gold").matches({{"example.com/tier", "gold"}}));
}

TEST(LabelSelectorTest, CanonicalStringRoundTrips) {
  for (const char* text : {"team=data", "team!=data", "env in (a,b)", "env notin (a,b)", "gpu",
                           "!spot", "a=b,c in (d,e),!f,g"}) {
    Selector s = parse(text);
    EXPECT_EQ(s.to_string(), text);
    EXPECT_EQ(parse(s.to_string()), s);
  }
  EXPECT_EQ(parse("env in (b, a, a)").to_string(), "env in (a,b)");
}

TEST(LabelSelectorTest, ErrorsQuoteTheSelectorAndSayWhy) {
  EXPECT_EQ(parse_error("env in ()"),
            R"~(invalid label selector "env in ()": the set of values for in must not be empty)~");
  EXPECT_EQ(parse_error("=data"),
            R"(invalid label selector "=data": expected a label key, found '=')");
  EXPECT_EQ(
      parse_error("team data"),
      R"(invalid label selector "team data": expected =, ==, !=, in or notin after key "team", found "data")");
  EXPECT_EQ(parse_error("a=b=c"),
            R"(invalid label selector "a=b=c": expected ',' between requirements, found '=')");
  EXPECT_EQ(
      parse_error("env in (a"),
      R"(invalid label selector "env in (a": expected a value, ',' or ')' in the set of in, found end of string)");
  EXPECT_EQ(parse_error("env in a"), R"(invalid label selector "env in a": expected '(' after in)");
  EXPECT_NE(parse_error("-bad=x").find(R"(key "-bad")"), std::string::npos);
  EXPECT_NE(parse_error("a=" + std::string(64, 'v')).find("must be no more than 63 characters"),
            std::string::npos);
  EXPECT_NE(parse_error("a,"), "");
  EXPECT_NE(parse_error("!"), "");
  EXPECT_NE(parse_error("a!b"), "");
}

TEST(LabelSelectorTest, StructuredFormMatchesLikeTheStringForm) {
  LabelSelector wire;
  wire.match_labels = {{"team", "data"}};
  wire.match_expressions = {{"env", SelectorOperator::kIn, {"staging", "prod"}},
                            {"spot", SelectorOperator::kDoesNotExist, {}}};
  auto s = Selector::from(wire, FieldPath("spec.runnerSelector"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, parse("team=data,env in (prod,staging),!spot"));
  EXPECT_TRUE(s->matches(kData));
  EXPECT_TRUE(Selector::from(LabelSelector{}, FieldPath("x"))->matches({}));
}

TEST(LabelSelectorTest, StructuredFormValidationNamesFields) {
  LabelSelector wire;
  wire.match_labels = {{"ok", "bad value"}};
  wire.match_expressions = {{"zone", SelectorOperator::kIn, {}},
                            {"gpu", SelectorOperator::kExists, {"yes"}},
                            {"", std::nullopt, {}}};
  auto s = Selector::from(wire, FieldPath("spec.runnerSelector"));
  ASSERT_FALSE(s.ok());
  std::vector<std::string> got;
  for (const auto& e : s.status().causes()) got.push_back(e.field + " " + std::string(e.reason()));
  std::vector<std::string> expected = {
      "spec.runnerSelector.matchLabels[ok] FieldValueInvalid",
      "spec.runnerSelector.matchExpressions[0].values FieldValueRequired",
      "spec.runnerSelector.matchExpressions[1].values FieldValueForbidden",
      "spec.runnerSelector.matchExpressions[2].key FieldValueRequired",
      "spec.runnerSelector.matchExpressions[2].operator FieldValueRequired",
  };
  EXPECT_EQ(got, expected);
}

FieldSelector parse_fields(std::string_view text) {
  auto s = FieldSelector::parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status().message();
  return s.ok() ? *s : FieldSelector();
}

TEST(FieldSelectorTest, ParsesTermsAndMatches) {
  auto s = parse_fields("status.phase=Pending,metadata.name!=skip");
  ASSERT_EQ(s.terms().size(), 2u);
  EXPECT_EQ(s.terms()[0], (FieldSelector::Term{"status.phase", true, "Pending"}));
  EXPECT_EQ(s.terms()[1], (FieldSelector::Term{"metadata.name", false, "skip"}));
  auto fields = [](std::string name, std::string phase) {
    return [=](std::string_view f) -> std::string {
      if (f == "metadata.name") return name;
      if (f == "status.phase") return phase;
      return "";
    };
  };
  EXPECT_TRUE(s.matches(fields("a", "Pending")));
  EXPECT_FALSE(s.matches(fields("skip", "Pending")));
  EXPECT_FALSE(s.matches(fields("a", "Running")));
  EXPECT_EQ(parse_fields("spec.slot==x").terms()[0].value, "x");
  EXPECT_EQ(parse_fields("status.phase=Pending").required_value("status.phase"), "Pending");
  EXPECT_FALSE(parse_fields("status.phase!=Pending").required_value("status.phase"));
  EXPECT_TRUE(parse_fields("").empty());
  EXPECT_EQ(parse_fields("a=").terms()[0].value, "");
}

TEST(FieldSelectorTest, EscapesProtectOperatorsInValues) {
  auto s = parse_fields(R"(metadata.name=a\,b\=c\\d)");
  ASSERT_EQ(s.terms().size(), 1u);
  EXPECT_EQ(s.terms()[0].value, R"(a,b=c\d)");
}

TEST(FieldSelectorTest, RejectsMalformedAndUnsupportedFields) {
  for (const char* bad : {"status.phase", "=x", "a=b,,c=d", "a=b,", R"(a=b\)", R"(a=\q)"}) {
    auto s = FieldSelector::parse(bad);
    EXPECT_FALSE(s.ok()) << bad;
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), StatusCode::kBadRequest);
    }
  }
  auto s = parse_fields("spec.nope=1");
  Status st = s.check_fields({"metadata.name", "status.phase"});
  EXPECT_EQ(st.code(), StatusCode::kBadRequest);
  EXPECT_EQ(st.message(),
            "field label not supported: spec.nope (supported: metadata.name, status.phase)");
  EXPECT_TRUE(parse_fields("status.phase=x").check_fields({"status.phase"}).ok());
}

}  // namespace
}  // namespace solti
