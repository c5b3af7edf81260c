// Durations of Task specs (timeout, backoff, restartInterval, ...):
// Duration::parse and format_duration.
//
// Invariants:
//  - a parsed Duration keeps exactly the text it was given (DESIGN: stored as
//    written);
//  - the canonical form of its value parses back to the same value.
#include "model/duration.h"
#include "tests/fuzz/fuzz_support.h"

using namespace solti;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  auto duration = Duration::parse(text);
  if (!duration.ok()) return 0;
  FUZZ_CHECK(duration->text() == text, "the text was rewritten: \"%s\"", duration->text().c_str());

  const Duration canonical = Duration::from(duration->value());
  auto again = Duration::parse(canonical.text());
  FUZZ_CHECK(again.ok(), "the canonical form \"%s\" does not parse: %s", canonical.text().c_str(),
             again.status().to_string().c_str());
  FUZZ_CHECK(again->value() == duration->value(), "\"%s\" -> \"%s\" changes the value",
             std::string(text).c_str(), canonical.text().c_str());
  FUZZ_CHECK(again->text() == format_duration(again->value()),
             "the canonical form \"%s\" is not canonical", canonical.text().c_str());
  (void)duration->millis();
  return 0;
}
