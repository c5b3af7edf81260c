// Label selectors in both forms the server reads: the string syntax of
// ?labelSelector= and soltictl -l (Selector::parse), and, for inputs that
// are a JSON object, the structured runnerSelector of a Task manifest
// (decode_json<LabelSelector> + Selector::from).
//
// Invariants:
//  - to_string() is canonical: parse(to_string()) gives an equal Selector
//    (label.h promises it; soltictl --prune and watches rely on it);
//  - matches() agrees between the two, on labels made from the selector.
#include "model/label_selector.h"
#include "tests/fuzz/fuzz_support.h"

using namespace solti;

namespace {

void check_round_trip(const Selector& selector) {
  const std::string text = selector.to_string();
  auto again = Selector::parse(text);
  FUZZ_CHECK(again.ok(), "to_string() does not parse: \"%s\": %s", text.c_str(),
             again.status().to_string().c_str());
  FUZZ_CHECK(*again == selector, "parse(to_string()) differs: \"%s\" -> \"%s\"", text.c_str(),
             again->to_string().c_str());
  // Labels that meet each requirement's first value, then with none.
  Labels labels;
  for (const auto& requirement : selector.requirements())
    labels[requirement.key] = requirement.values.empty() ? "" : requirement.values.front();
  FUZZ_CHECK(again->matches(labels) == selector.matches(labels), "matches() differs: \"%s\"",
             text.c_str());
  FUZZ_CHECK(again->matches({}) == selector.matches({}), "matches({}) differs: \"%s\"",
             text.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  if (auto selector = Selector::parse(text); selector.ok()) check_round_trip(*selector);

  if (!text.empty() && text.front() == '{') {
    auto body = fuzz::parse_request_body(text, /*yaml=*/false);
    if (!body.ok()) return 0;
    DecodeReport report;
    const auto wire = decode_json<LabelSelector>(*body, report, FieldPath("spec.runnerSelector"));
    if (!report.ok()) return 0;
    if (auto selector = Selector::from(wire, FieldPath("spec.runnerSelector")); selector.ok())
      check_round_trip(*selector);
  }
  return 0;
}
