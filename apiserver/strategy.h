// Resource strategies: everything the API server knows about one resource
// (Kubernetes' registry "strategy"). The generic Registry and HTTP layer
// call only this interface; Task- and TaskRun-specific behaviour lives in
// resources.cc and nowhere else.
//
// Strategies are immutable after construction and safe to share between
// threads. They work on JSON objects (the stored form) and decode them into
// the typed model only to validate and default.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "model/clock.h"
#include "model/field_error.h"
#include "model/object_meta.h"
#include "model/status.h"

namespace solti::api {

struct ResourceInfo {
  std::string group;     // "solti.io"
  std::string version;   // "v1"
  std::string plural;    // "tasks"
  std::string singular;  // "task"
  std::string kind;      // "Task"
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool user_writable = true;  // false: read-only through the API (405 on writes)
  bool has_status = true;     // has a /status subresource
  bool has_log = false;       // has a /log subresource (Strategy::log_ref)

  std::string api_version() const { return group + "/" + version; }
  std::string list_kind() const { return kind + "List"; }
  // "tasks.solti.io", as Kubernetes names a resource in messages.
  std::string qualified() const { return plural + "." + group; }
};

// Which log file the log subresource serves, relative to the logs
// directory, and whether it may still grow (the attempt is running).
struct LogRef {
  std::string path;
  bool live = false;
};

// The result of decoding and validating a request's object.
struct Checked {
  Json object;  // canonical form: known fields only, as written
  FieldErrors errors;
  std::vector<std::string> unknown_fields;
};

class Strategy {
 public:
  virtual ~Strategy() = default;

  virtual const ResourceInfo& info() const = 0;

  // Decodes and validates an object a user sent. The canonical object drops
  // unknown fields (reported apart, for fieldValidation).
  virtual Checked check(const Json& object) const = 0;
  // Validation of an object after a write was prepared (e.g. a status update).
  virtual FieldErrors validate(const Json& object) const = 0;

  // A new object: defaults filled in, status cleared, generation 1.
  virtual void prepare_for_create(Json& object) const = 0;
  // check(), then prepare_for_create() of the canonical object when it has
  // no errors. A strategy may do both from one decode (a create's CPU went
  // largely to decoding and encoding).
  virtual Checked check_for_create(const Json& object) const {
    Checked checked = check(object);
    if (checked.errors.empty()) prepare_for_create(checked.object);
    return checked;
  }
  // A write to the main resource: status kept from `old`; generation bumped
  // when the spec changed.
  virtual void prepare_for_update(Json& object, const Json& old) const = 0;
  // A write to /status: everything but status kept from `old`.
  virtual void prepare_for_status_update(Json& object, const Json& old) const = 0;

  // Field selector support for the resource's own fields (the registry
  // adds metadata.name and metadata.namespace for every resource).
  virtual std::vector<std::string_view> selectable_fields() const = 0;
  virtual std::string field_value(const Json& object, std::string_view field) const = 0;

  // Table output for kubectl get: column definitions and one row's cells.
  virtual Json table_columns() const = 0;
  virtual Json table_cells(const Json& object, Timestamp now) const = 0;

  // OpenAPI v3 schema of the object (components.schemas entry).
  virtual Json openapi_schema() const = 0;

  // For resources with has_log: the log of attempt `attempt` of the
  // object's current generation (0: the latest attempt). kBadRequest when
  // there is no such attempt.
  virtual Result<LogRef> log_ref(const Json& object, int64_t attempt) const;
};

}  // namespace solti::api
