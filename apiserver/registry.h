// The generic registry: Kubernetes API semantics for one resource on top of
// the store, with the resource's Strategy supplying everything
// resource-specific. Knows nothing about Tasks.
//
// Semantics (as the Kubernetes apiserver):
//  - create: namespace from the path, generateName, strategy defaults,
//    fieldValidation for unknown fields, dryRun.
//  - update/patch: optimistic concurrency on metadata.resourceVersion;
//    writes that change nothing write nothing (resourceVersion kept); main
//    resource writes ignore status, /status writes ignore everything else.
//  - delete: with finalizers, sets deletionTimestamp and keeps the object
//    until an update empties metadata.finalizers; then it is removed.
//  - list/watch: label and field selectors, paging on one snapshot; watches
//    turn selector transitions into ADDED/DELETED as Kubernetes does.
//
// Thread-safe. Errors are Status values whose messages are the ones
// kubectl users know ("tasks.solti.io \"x\" not found").
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apiserver/managed_fields.h"
#include "apiserver/strategy.h"
#include "model/field_selector.h"
#include "model/label_selector.h"
#include "store/store.h"

namespace solti::api {

enum class FieldValidation { kStrict, kWarn, kIgnore };
enum class Subresource { kMain, kStatus };
enum class PatchType { kMerge, kJson };

struct WriteOptions {
  bool dry_run = false;
  FieldValidation field_validation = FieldValidation::kStrict;
  std::string field_manager;  // required for apply; "unknown" when empty otherwise
};

// Objects travel as their stored JSON text so that lists and watches can be
// written out without parsing and re-encoding each object.
using RawObject = std::shared_ptr<const std::string>;

struct WriteResult {
  RawObject object;  // as stored (or, for a dry run, as it would be)
  bool created = false;
  std::vector<std::string> warnings;
};

// Receives a write's outcome; see Registry::create.
using WriteCallback = std::function<void(Result<WriteResult>)>;

struct DeleteOptions {
  std::optional<std::string> uid;               // preconditions.uid
  std::optional<std::string> resource_version;  // preconditions.resourceVersion
  bool dry_run = false;
};

struct ListQuery {
  Selector labels;
  FieldSelector fields;
  size_t limit = 0;
  std::string continue_token;
  // resourceVersion: a revision the store has not reached is refused (the
  // current state is at least as new as any revision it has).
  std::optional<uint64_t> resource_version;
};

struct ListPage {
  std::vector<RawObject> items;
  std::string resource_version;
  std::string continue_token;
};

struct WatchQuery {
  Selector labels;
  FieldSelector fields;
  // Empty or "0": the current state as ADDED events first, then changes.
  std::string resource_version;
  bool send_initial_events = false;  // with an exact version: initial state anyway
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK
  RawObject object;
};

class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Events after the previous call, waiting until the deadline for some.
  // kExpired: the start or the stream fell out of retained history.
  virtual Result<std::vector<WatchEvent>> next(std::chrono::steady_clock::time_point deadline) = 0;
  virtual void cancel() = 0;
  // The newest resourceVersion the stream has passed (for bookmarks).
  virtual std::string resource_version() const = 0;
};

class Registry {
 public:
  Registry(store::Store& store, const Strategy& strategy, Clock& clock);

  const Strategy& strategy() const { return strategy_; }
  // Fields a fieldSelector may name: metadata.name, metadata.namespace and
  // the strategy's own.
  std::vector<std::string_view> selectable_fields() const;
  std::string field_value(const Json& object, std::string_view field) const;
  const ResourceInfo& info() const { return strategy_.info(); }

  Result<Json> get(const std::string& ns, const std::string& name);
  // `ns` empty: all namespaces.
  Result<ListPage> list(const std::string& ns, const ListQuery& query);
  Result<WriteResult> create(const std::string& ns, Json object, const WriteOptions& options);
  // create() without a thread waiting for the fsync: calls `done` exactly
  // once, on this thread when the create is refused or a dry run, else on
  // the store's committing thread once durable (store::Store::create_async),
  // so `done` must be quick and must not call the registry.
  void create(const std::string& ns, Json object, const WriteOptions& options, WriteCallback done);
  Result<WriteResult> update(const std::string& ns, const std::string& name, Json object,
                             Subresource subresource, const WriteOptions& options);
  Result<WriteResult> patch(const std::string& ns, const std::string& name, PatchType type,
                            const Json& patch, Subresource subresource,
                            const WriteOptions& options);
  // Server-side apply of a (partial) configuration: creates the object when
  // absent (created = true). kConflict with FieldManagerConflict causes when
  // another manager owns an applied field, unless `force`.
  Result<WriteResult> apply(const std::string& ns, const std::string& name,
                            const Json& configuration, Subresource subresource,
                            const WriteOptions& options, bool force);
  // The object as deleted, or with deletionTimestamp set while finalizers remain.
  Result<Json> remove(const std::string& ns, const std::string& name, const DeleteOptions& options);
  // Deletes every object the query selects; returns how many.
  Result<size_t> remove_collection(const std::string& ns, const ListQuery& query, bool dry_run);
  Result<std::unique_ptr<WatchStream>> watch(const std::string& ns, const WatchQuery& query);

 private:
  std::string key(const std::string& ns, const std::string& name) const;
  std::string prefix(const std::string& ns) const;

  // A plain write makes its manager own what it changed; an apply has
  // already set managedFields itself.
  enum class Ownership { kRecordUpdate, kAlreadyApplied };

  void create_object(const std::string& ns, Json object, const WriteOptions& options,
                     Ownership ownership, WriteCallback done);
  Result<WriteResult> write_update(const std::string& ns, const std::string& name,
                                   const std::function<Result<Json>(const Json& current)>& change,
                                   Subresource subresource, const WriteOptions& options,
                                   Ownership ownership);
  ManagerContext manager_context(const WriteOptions& options, Subresource subresource) const;
  Status not_found(const std::string& name) const;
  Status conflict(const std::string& name) const;
  Status invalid(const std::string& name, FieldErrors errors) const;
  // Unknown fields under fieldValidation: an error (Strict) or warnings.
  Status handle_unknown_fields(const std::vector<std::string>& unknown, FieldValidation mode,
                               std::vector<std::string>& warnings) const;
  bool matches(const Json& object, const Selector& labels, const FieldSelector& fields) const;

  store::Store& store_;
  const Strategy& strategy_;
  Clock& clock_;
};

// A resourceVersion as a revision: decimal digits within 64 bits.
std::optional<uint64_t> parse_resource_version(std::string_view text);

// Order-insensitive equality of JSON objects.
bool same_json(const Json& a, const Json& b);

}  // namespace solti::api
