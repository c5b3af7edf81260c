// Field selectors as ?fieldSelector= reaches the server: FieldSelector::parse,
// check_fields against the Task registry's selectable fields, matches() and
// required_value() as lists and watches use them.
//
// Invariant: printing the parsed terms back, escaping '\', ',', '=' and '!'
// the way the syntax allows, parses to the same terms (the escapes are
// unambiguous and nothing is lost or split differently).
#include "model/field_selector.h"
#include "tests/fuzz/fuzz_support.h"

using namespace solti;

namespace {

std::string escaped(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == ',' || c == '=' || c == '!') out += '\\';
    out += c;
  }
  return out;
}

std::string print(const FieldSelector& selector) {
  std::string out;
  for (const auto& term : selector.terms()) {
    if (!out.empty()) out += ',';
    out += escaped(term.field);
    out += term.equals ? "=" : "!=";
    out += escaped(term.value);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto selector = FieldSelector::parse(fuzz::as_text(data, size));
  if (!selector.ok()) return 0;

  const std::string printed = print(*selector);
  auto again = FieldSelector::parse(printed);
  FUZZ_CHECK(again.ok(), "the printed selector does not parse: \"%s\": %s", printed.c_str(),
             again.status().to_string().c_str());
  FUZZ_CHECK(again->terms() == selector->terms(), "the printed selector differs: \"%s\"",
             printed.c_str());

  // What the Task registry offers (Registry::selectable_fields).
  (void)selector->check_fields(
      {"metadata.name", "metadata.namespace", "spec.slot", "status.phase"});
  (void)selector->required_value("metadata.name");
  // An object whose every field has the value of the first term: it meets
  // that term, so an equality term there must be an index hint.
  if (selector->empty()) return 0;
  const FieldSelector::Term& first = selector->terms().front();
  (void)selector->matches([&](std::string_view) { return first.value; });
  if (first.equals) {
    FUZZ_CHECK(selector->required_value(first.field).has_value(),
               "an equality term gives no required value: \"%s\"", printed.c_str());
  }
  return 0;
}
