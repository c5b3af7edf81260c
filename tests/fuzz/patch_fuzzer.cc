// PATCH requests with application/merge-patch+json and
// application/json-patch+json: the server's JSON body decoding, then
// Registry::patch on a live Task (nlohmann's merge_patch / patch, strict
// decoding, validation, prepare_for_update or the /status path,
// managedFields bookkeeping, the no-op check) over an in-memory store.
//
// Input: one flags byte, then the patch body.
//   bit 0: JSON patch (else merge patch)   bit 1: the /status subresource
//   bit 2: fieldValidation=Ignore (else Strict)
//
// Invariants:
//  - every object written passes check_written_object();
//  - a merge patch is idempotent: sent again it succeeds and writes nothing
//    (unless it carries a resourceVersion, which the first write made stale).
#include "tests/fuzz/registry_harness.h"

using namespace solti;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  const api::PatchType type = flags & 1 ? api::PatchType::kJson : api::PatchType::kMerge;
  const api::Subresource subresource =
      flags & 2 ? api::Subresource::kStatus : api::Subresource::kMain;
  api::WriteOptions options;
  options.field_manager = "fuzz";
  options.field_validation =
      flags & 4 ? api::FieldValidation::kIgnore : api::FieldValidation::kStrict;

  auto patch = fuzz::parse_request_body(fuzz::as_text(data + 1, size - 1), /*yaml=*/false);
  if (!patch.ok()) return 0;

  fuzz::TaskRegistry harness;
  harness.create_live_object();
  auto patched =
      harness.registry.patch(harness.kNamespace, harness.kName, type, *patch, subresource, options);
  if (!patched.ok()) return 0;
  const Json written = Json::parse(*patched->object);
  fuzz::check_written_object(*harness.strategy, written);
  FUZZ_CHECK(written == harness.stored(), "the reply is not what was stored: %s",
             patched->object->c_str());

  if (type != api::PatchType::kMerge) return 0;
  auto again =
      harness.registry.patch(harness.kNamespace, harness.kName, type, *patch, subresource, options);
  const bool names_resource_version = patch->is_object() && patch->contains("metadata") &&
                                      patch->at("metadata").is_object() &&
                                      patch->at("metadata").contains("resourceVersion");
  if (names_resource_version && !again.ok()) return 0;
  FUZZ_CHECK(again.ok(), "a merge patch that applied once fails the second time: %s",
             again.status().to_string().c_str());
  FUZZ_CHECK(*again->object == json_text(harness.stored()) &&
                 Json::parse(*again->object)["metadata"]["resourceVersion"] ==
                     written["metadata"]["resourceVersion"],
             "a merge patch sent twice wrote twice:\nfirst  %s\nsecond %s",
             patched->object->c_str(), again->object->c_str());
  return 0;
}
