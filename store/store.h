// The store: the single source of truth shared by the API server and the
// reconciler (DESIGN §7). Generic over resources: it stores JSON objects
// under keys "/<group>/<resource>/<namespace>/<name>" and knows of an
// object only the metadata every Kubernetes object has (uid,
// creationTimestamp, resourceVersion), which it sets itself.
//
// Guarantees
//  - One global 64-bit revision. Every committed create, update and delete
//    takes the next one; an object's resourceVersion is the revision of its
//    last write.
//  - A write is acknowledged (the call returns) only once it is durable:
//    the write-ahead log is fsynced unless Options::sync_writes is false.
//    Concurrent writers share fsyncs (group commit).
//  - Compare-and-swap: update and remove check Preconditions against the
//    latest state, including writes not yet durable, so no update is lost.
//  - Watchers receive every event after their start revision exactly once,
//    in revision order, across restarts of the process, until compaction
//    removes the history they need (then kExpired).
//  - A list chain (limit + continue) reads one consistent snapshot.
//
// Thread safety: every method of Store and Watcher may be called from any
// thread. Ownership: every Watcher must be destroyed before its Store.
// Errors: Status codes kNotFound, kAlreadyExists, kConflict (preconditions),
// kExpired (compacted history, expired continue token, watcher too slow),
// kBadRequest (malformed input), kUnavailable (store closed), kInternal.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/clock.h"
#include "model/object_meta.h"
#include "model/status.h"

namespace solti::store {

struct Options {
  std::string path;
  // false only for benchmarks: acknowledged writes may be lost on power loss.
  bool sync_writes = true;
  Clock* clock = &system_clock();
  // Revision history (for watch resume and continue tokens) is kept for at
  // least this long and at least this many revisions.
  std::chrono::milliseconds min_retention_time{std::chrono::minutes(5)};
  uint64_t min_retention_revisions = 1000;
  // How often compaction runs in the background; 0 = only when compact() is called.
  std::chrono::milliseconds compaction_interval{std::chrono::minutes(1)};
  // The in-memory event ring that live watchers read from.
  size_t watch_cache_events = 16384;
  size_t watch_cache_bytes = size_t{128} << 20;
  // Open list chains (continue tokens) and how long each may stay open.
  size_t max_list_snapshots = 512;
  std::chrono::milliseconds list_snapshot_ttl{std::chrono::minutes(5)};
};

struct StoredObject {
  std::string key;
  std::shared_ptr<const std::string> value;  // JSON, metadata filled in by the store
  uint64_t create_revision = 0;
  uint64_t mod_revision = 0;
  std::string uid;
};

struct Preconditions {
  std::optional<uint64_t> revision;  // the object's current resourceVersion
  std::optional<std::string> uid;
};

struct ListOptions {
  std::string prefix;
  size_t limit = 0;  // 0 = everything
  std::string continue_token;
  // Which objects count towards the page; nullptr = all.
  std::function<bool(const StoredObject&)> filter;
};

struct ListResult {
  std::vector<StoredObject> items;
  uint64_t revision = 0;       // the snapshot the chain reads
  std::string continue_token;  // empty on the last page
};

enum class EventType { kAdded, kModified, kDeleted };

struct Event {
  EventType type = EventType::kAdded;
  uint64_t revision = 0;
  std::string key;
  // The object after the write; for kDeleted its last state, with
  // resourceVersion set to the revision of the delete.
  std::shared_ptr<const std::string> value;
  // The object before the write (null for kAdded), so that a filtered watch
  // can tell when an object stops or starts matching.
  std::shared_ptr<const std::string> prev_value;
};

struct Stats {
  uint64_t writes = 0;          // acknowledged writes
  uint64_t commit_batches = 0;  // WAL writes (fsyncs when syncing)
  uint64_t watchers = 0;        // open watchers
  // Memory held by the store, in bytes: write buffers, the index and filter
  // blocks of open tables, the block cache, and the live watchers' event ring.
  uint64_t memtable_bytes = 0;
  uint64_t table_reader_bytes = 0;
  uint64_t block_cache_bytes = 0;
  uint64_t watch_cache_bytes = 0;
};

class Watcher {
 public:
  virtual ~Watcher() = default;
  // Blocks until events are available (returns at most `max_events`), the
  // deadline passes (returns none), or the watch ends with an error:
  // kExpired when it fell behind the retained history or the watch cache,
  // kUnavailable when the watcher was cancelled or the store closed.
  virtual Result<std::vector<Event>> next(std::chrono::steady_clock::time_point deadline,
                                          size_t max_events) = 0;
  // Ends the watch; a blocked next() returns kUnavailable at once.
  virtual void cancel() = 0;
};

// Keeps a listener given to Store::on_publish registered while it lives.
class PublishSubscription {
 public:
  virtual ~PublishSubscription() = default;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<StoredObject> get(std::string_view key) = 0;
  virtual Result<ListResult> list(const ListOptions& options) = 0;
  // Sets metadata.uid, creationTimestamp and resourceVersion. kAlreadyExists.
  virtual Result<StoredObject> create(std::string_view key, Json object) = 0;
  // create() without waiting for the fsync: returns at once and calls
  // `done` exactly once with what create() would have returned. A create
  // refused up front calls it on this thread before returning; one that was
  // queued calls it on the committing thread once durable (or failed),
  // after its event reached the watchers, and in the order of the writes.
  // `done` must be quick and must not call the store. Lets a server answer
  // many clients without a thread asleep per write.
  virtual void create_async(std::string_view key, Json object,
                            std::function<void(Result<StoredObject>)> done) {
    done(create(key, std::move(object)));
  }
  // Replaces the object; keeps its uid and creationTimestamp; sets
  // resourceVersion. kNotFound, kConflict.
  virtual Result<StoredObject> update(std::string_view key, Json object,
                                      const Preconditions& preconditions) = 0;
  // Returns the deleted object's last state. kNotFound, kConflict.
  virtual Result<StoredObject> remove(std::string_view key, const Preconditions& preconditions) = 0;

  // Events with revision > after_revision under `prefix` (pass revision()
  // to start from now). kExpired when after_revision is below the
  // compacted revision.
  virtual Result<std::unique_ptr<Watcher>> watch(std::string prefix, uint64_t after_revision) = 0;
  // Calls `listener` each time committed events reach the watchers and once
  // when the store closes, so that an event loop can poll its watchers with
  // a past deadline instead of parking a thread in next() per watcher. It
  // runs on the committing thread: it must be quick and must not call the
  // store. Destroying the subscription waits for a running call.
  virtual std::unique_ptr<PublishSubscription> on_publish(std::function<void()> listener) = 0;

  // Returns once no write of `key` waits for its fsync. Until then get()
  // shows the last durable state while a compare-and-swap already meets
  // the waiting write, so a writer retrying a lost race waits here rather
  // than losing it again and again.
  virtual void wait_for_pending_write(std::string_view /*key*/) {}

  virtual uint64_t revision() = 0;            // the latest committed revision
  virtual uint64_t compacted_revision() = 0;  // history at or below it is gone
  // Drops history older than the retention bounds now.
  virtual Status compact() = 0;
  virtual Stats stats() = 0;
  // Ok while the store accepts writes. After a write it could not make
  // durable (a full disk, no file descriptors left) every later write fails
  // with this status until the process restarts, so health probes report it.
  virtual Status health() = 0;
};

// Sets the store-owned metadata of `object` (uid, creationTimestamp,
// resourceVersion), for every Store implementation. kBadRequest when it is
// not an object or its metadata is not an object.
Status stamp_metadata(Json& object, const std::string& uid, int64_t create_time_ms,
                      uint64_t revision);

// Opens (creating if needed) a RocksDB-backed store under options.path,
// recovering every acknowledged write and the revision.
Result<std::unique_ptr<Store>> open_rocksdb_store(const Options& options);

}  // namespace solti::store
