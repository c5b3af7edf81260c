// JSON request bodies as the API server decodes them for create and update
// (the nesting bound, nlohmann), then the Task and TaskRun strategies: check
// (decode + validate + canonical form), prepare_for_create, validate, and
// the per-object readers of lists and tables.
//
// Invariants:
//  - check() of a valid object returns a canonical form that is valid and a
//    fixed point of check();
//  - an object check() accepts is still valid after prepare_for_create
//    (defaults never make a valid object invalid);
//  - check_for_create() is check() then prepare_for_create(), whatever
//    shortcut the strategy takes.
#include "apiserver/resources.h"
#include "tests/fuzz/fuzz_support.h"

using namespace solti;

namespace {

void exercise(const api::Strategy& strategy, const Json& body) {
  api::Checked checked = strategy.check(body);
  api::Checked again = strategy.check(checked.object);
  FUZZ_CHECK(again.unknown_fields.empty(), "%s: the canonical object has unknown fields: %s",
             strategy.info().kind.c_str(), json_text(checked.object).c_str());
  // Only a valid object's canonical form is ever stored; an invalid one's
  // may lose what made it invalid (apiVersion "" is omitted, then defaulted).
  if (!checked.errors.empty()) return;
  FUZZ_CHECK(again.errors.empty() && again.object == checked.object,
             "%s: the canonical form of a valid object is not a valid fixed point: %s -> %s",
             strategy.info().kind.c_str(), json_text(checked.object).c_str(),
             json_text(again.object).c_str());

  Json created = checked.object;
  strategy.prepare_for_create(created);
  api::Checked in_one = strategy.check_for_create(body);
  FUZZ_CHECK(in_one.errors.empty() && in_one.unknown_fields == checked.unknown_fields &&
                 in_one.object == created,
             "%s: check_for_create differs from check then prepare_for_create: %s vs %s",
             strategy.info().kind.c_str(), json_text(in_one.object).c_str(),
             json_text(created).c_str());
  FieldErrors errors = strategy.validate(created);
  FUZZ_CHECK(errors.empty(), "%s: valid before prepare_for_create, invalid after: %s\n%s",
             strategy.info().kind.c_str(), join_field_errors(errors).c_str(),
             json_text(created).c_str());

  for (std::string_view field : strategy.selectable_fields())
    (void)strategy.field_value(created, field);
  (void)strategy.table_cells(created, Timestamp(std::chrono::seconds(1767225600)));
  if (strategy.info().has_log) (void)strategy.log_ref(created, 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto task_strategy = api::make_task_strategy();
  static const auto task_run_strategy = api::make_task_run_strategy();
  auto body = fuzz::parse_request_body(fuzz::as_text(data, size), /*yaml=*/false);
  if (!body.ok()) return 0;
  exercise(*task_strategy, *body);
  exercise(*task_run_strategy, *body);
  return 0;
}
