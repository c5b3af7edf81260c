// Server-side apply (PATCH with application/apply-patch+yaml): the server's
// YAML/JSON body decoding, then Registry::apply, which checks the applied
// configuration, merges it with apply_configuration (ownership, conflicts,
// force, removal of fields no longer applied) and writes it through the
// same path as every update, over an in-memory store.
//
// Input: one flags byte, then the applied configuration.
//   bit 0: force   bit 1: the /status subresource
//   bit 2: no live object (the apply creates it)
//
// Invariants:
//  - every object written passes check_written_object();
//  - apply is idempotent: the same configuration applied again, unforced,
//    succeeds without a conflict and writes nothing.
#include "tests/fuzz/registry_harness.h"

using namespace solti;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  const bool force = flags & 1;
  const api::Subresource subresource =
      flags & 2 ? api::Subresource::kStatus : api::Subresource::kMain;
  api::WriteOptions options;
  options.field_manager = "fuzz";

  auto configuration = fuzz::parse_request_body(fuzz::as_text(data + 1, size - 1), /*yaml=*/true);
  if (!configuration.ok()) return 0;

  fuzz::TaskRegistry harness;
  if (!(flags & 4)) harness.create_live_object();
  auto applied = harness.registry.apply(harness.kNamespace, harness.kName, *configuration,
                                        subresource, options, force);
  if (!applied.ok()) return 0;
  const Json written = Json::parse(*applied->object);
  fuzz::check_written_object(*harness.strategy, written);
  FUZZ_CHECK(written == harness.stored(), "the reply is not what was stored: %s",
             applied->object->c_str());

  auto again = harness.registry.apply(harness.kNamespace, harness.kName, *configuration,
                                      subresource, options, /*force=*/false);
  FUZZ_CHECK(again.ok(), "an apply that succeeded once fails the second time: %s\n%s",
             again.status().to_string().c_str(), applied->object->c_str());
  FUZZ_CHECK(!again->created && *again->object == *applied->object,
             "an apply sent twice wrote twice:\nfirst  %s\nsecond %s", applied->object->c_str(),
             again->object->c_str());
  return 0;
}
