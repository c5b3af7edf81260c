// Task manifests as soltictl validate/apply and YAML request bodies read
// them: parse_yaml (yaml-cpp, the core schema, alias and depth bounds), the
// JSON decoding of a Task, its validation, and the positions of problems.
//
// Invariants:
//  - to_yaml() output (soltictl get -o yaml, diff) reads back as the same
//    document;
//  - a document without problems is a valid Task whose canonical encoding
//    decodes, without problems, to the same Task.
#include "model/manifest.h"
#include "model/names.h"
#include "tests/fuzz/fuzz_support.h"

using namespace solti;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  auto manifests = decode_task_manifests(text, Origin::kApi);
  if (!manifests.ok()) return 0;
  for (const TaskManifest& manifest : *manifests) {
    for (const ManifestProblem& problem : manifest.problems) (void)problem.to_string("fuzz.yaml");

    // json_text compares NaN equal to NaN (both "null"); objects read from
    // the wire are valid UTF-8, so only such inputs are held to the round
    // trip. A null document ("!tag" alone) is written "~", which parse_yaml
    // skips as empty, as it should.
    if (is_valid_utf8(text) && !manifest.object.is_null()) {
      const std::string yaml = to_yaml(manifest.object);
      auto again = parse_yaml(yaml);
      FUZZ_CHECK(again.ok(), "to_yaml output does not parse: %s\n%s",
                 again.status().to_string().c_str(), yaml.c_str());
      FUZZ_CHECK(again->size() == 1 && json_text((*again)[0].value) == json_text(manifest.object),
                 "to_yaml does not round trip:\n%s\nwas %s", yaml.c_str(),
                 json_text(manifest.object).c_str());
    }

    if (manifest.problems.empty()) {
      const Json canonical = encode_json(manifest.task);
      CheckedTask again = decode_and_validate_task(canonical, Origin::kApi);
      FUZZ_CHECK(again.errors.empty() && again.unknown_fields.empty(),
                 "the canonical form of a valid Task has problems: %s",
                 json_text(canonical).c_str());
      FUZZ_CHECK(encode_json(again.task) == canonical, "the canonical form does not round trip: %s",
                 json_text(canonical).c_str());
    }
  }
  return 0;
}
