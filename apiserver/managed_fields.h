// Field ownership for server-side apply (Kubernetes managedFields).
//
// A field set is the set of leaf paths of an object: scalars, lists (lists
// are atomic, as structured-merge-diff treats CRD lists without list-type
// markers) and empty objects. Tracked paths are the user's: spec (or status
// through /status), and metadata labels, annotations, finalizers and
// ownerReferences. Sets are stored in managedFields as FieldsV1.
//
//  - apply(): a manager declares the fields it wants; another manager owning
//    one of them with a different value is a conflict unless forced (then it
//    loses the field). Fields the manager applied before and no longer
//    applies are removed unless someone else owns them.
//  - record_update(): a plain write (create, update, patch) makes its manager
//    own the fields it changed and takes them from every other manager.
// An entry's time changes only when its set does, so an identical apply
// writes nothing. Pure functions; thread-safe.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "model/field_error.h"
#include "model/object_meta.h"
#include "model/status.h"
#include "model/timestamp.h"

namespace solti::api {

using FieldPathSegments = std::vector<std::string>;
using FieldSet = std::set<FieldPathSegments>;

struct ManagerContext {
  std::string manager;
  std::string api_version;  // "solti.io/v1"
  bool status_subresource = false;
  Timestamp now;
};

FieldSet field_set(const Json& object, bool status_subresource);
Json encode_fields_v1(const FieldSet& fields);
FieldSet decode_fields_v1(const Json& fields_v1);

// The object that results from `manager` applying `applied` to `live` (null
// when the object does not exist yet), with its managedFields updated.
// kConflict with FieldManagerConflict causes unless `force`.
Result<Json> apply_configuration(const Json& live, const Json& applied,
                                 const ManagerContext& context, bool force);

// `updated` with managedFields recording that `manager` wrote it over `old`
// (null for a create).
void record_update(const Json& old, Json& updated, const ManagerContext& context);

}  // namespace solti::api
