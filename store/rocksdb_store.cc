// RocksDB implementation of Store.
//
// Write path: a writer takes mu_, checks its preconditions against the
// latest state of the key (the `pending_` overlay of writes not yet durable,
// else RocksDB), takes the next revision, queues its write and waits (or,
// for create_async, returns). One commit thread takes everything queued,
// writes it as one WriteBatch (objects, revision log and the revision counter
// together) with one WAL sync, then publishes the events to the watch hub,
// wakes the waiting writers and calls the others. Revisions are
// assigned and committed in the same order, so the log never has gaps.
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/options_util.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "model/json_codec.h"
#include "model/uuid.h"
#include "store/continue_token.h"
#include "store/record.h"
#include "store/store.h"
#include "store/watch_hub.h"

namespace solti::store {
namespace {

namespace rdb = rocksdb;

constexpr std::string_view kRevisionKey = "revision";
constexpr std::string_view kCompactedKey = "compacted";

Status internal(std::string_view what, const rdb::Status& s) {
  return Status(StatusCode::kInternal, std::string(what) + ": " + s.ToString());
}

int64_t to_ms(Timestamp t) { return t.time_since_epoch().count(); }

bool has_prefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

// The latest state of a key as the sequencer sees it.
struct KeyState {
  bool exists = false;
  uint64_t create_revision = 0;
  uint64_t mod_revision = 0;
  int64_t create_time_ms = 0;
  std::string uid;
  std::shared_ptr<const std::string> value;
};

// The writers of one commit batch wait here for its outcome. Each batch has
// its own, so that a commit wakes only its writers (one condition for all
// also woke those queued for the next batch), and its own mutex, so that the
// woken writers do not queue for the store's mutex just to return.
struct BatchWaiters {
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  Status status;

  void finish(Status outcome) {
    {
      std::lock_guard lock(mu);
      done = true;
      status = std::move(outcome);
    }
    done_cv.notify_all();
  }
};

struct PendingWrite {
  uint64_t revision = 0;
  std::string key;
  EventType type = EventType::kAdded;
  std::shared_ptr<const std::string> value;
  std::shared_ptr<const std::string> prev_value;
  std::string record;  // encoded ObjectRecord; empty for deletes
  int64_t time_ms = 0;
  // Called with the batch's outcome by the committing thread; empty for a
  // writer that waits on the batch instead.
  std::function<void(const Status&)> on_durable;
};

StoredObject created_object(const PendingWrite& write, const KeyState& state) {
  return {write.key, write.value, write.revision, write.revision, state.uid};
}

// Tells a batch's writers its outcome: those waiting, and those that asked
// to be called.
void finish_batch(std::vector<PendingWrite>& batch, BatchWaiters& waiters, const Status& outcome) {
  waiters.finish(outcome);
  for (auto& w : batch) {
    if (w.on_durable) w.on_durable(outcome);
  }
}

}  // namespace

Status stamp_metadata(Json& object, const std::string& uid, int64_t create_time_ms,
                      uint64_t revision) {
  if (!object.is_object()) return Status(StatusCode::kBadRequest, "object must be a JSON object");
  Json& metadata = object["metadata"];
  if (metadata.is_null()) metadata = Json::object();
  if (!metadata.is_object()) return Status(StatusCode::kBadRequest, "metadata must be an object");
  metadata["uid"] = uid;
  metadata["creationTimestamp"] =
      format_rfc3339(Timestamp(std::chrono::milliseconds(create_time_ms)));
  metadata["resourceVersion"] = std::to_string(revision);
  return Status::Ok();
}

namespace {

Status check_preconditions(std::string_view key, const KeyState& current,
                           const Preconditions& preconditions) {
  if (preconditions.uid && *preconditions.uid != current.uid) {
    return Status(StatusCode::kConflict,
                  "Precondition failed: UID in precondition: " + *preconditions.uid +
                      ", UID in object meta: " + current.uid);
  }
  if (preconditions.revision && *preconditions.revision != current.mod_revision) {
    return Status(StatusCode::kConflict,
                  "the object " + std::string(key) +
                      " has been modified; please apply your changes to the latest version and "
                      "try again (resourceVersion " +
                      std::to_string(*preconditions.revision) + " is not the current " +
                      std::to_string(current.mod_revision) + ")");
  }
  return Status::Ok();
}

// A stored value's text lives as long as the watch cache and informers hold
// it, so it is sized to fit: dump() grows its string by doubling, and the
// slack was a third of soltid's heap right after loading 100,000 Tasks.
std::shared_ptr<const std::string> stored_text(const Json& object) {
  std::string text = json_text(object);
  text.shrink_to_fit();
  return std::make_shared<const std::string>(std::move(text));
}

// Scans (lists, history reads, compaction) read each block once: caching
// them would evict the blocks point reads come back to, and fill the block
// cache with history that compaction is about to delete.
rdb::ReadOptions scan_options(const rdb::Snapshot* snapshot) {
  rdb::ReadOptions options;
  options.snapshot = snapshot;
  options.fill_cache = false;
  return options;
}

class RocksStore final : public Store, private History {
 public:
  explicit RocksStore(const Options& options) : options_(options) {}
  ~RocksStore() override;

  Status open();

  Result<StoredObject> get(std::string_view key) override;
  Result<ListResult> list(const ListOptions& options) override;
  Result<StoredObject> create(std::string_view key, Json object) override;
  void create_async(std::string_view key, Json object,
                    std::function<void(Result<StoredObject>)> done) override;
  Result<StoredObject> update(std::string_view key, Json object,
                              const Preconditions& preconditions) override;
  Result<StoredObject> remove(std::string_view key, const Preconditions& preconditions) override;
  Result<std::unique_ptr<Watcher>> watch(std::string prefix, uint64_t after_revision) override;
  std::unique_ptr<PublishSubscription> on_publish(std::function<void()> listener) override {
    return hub_->on_publish(std::move(listener));
  }
  void wait_for_pending_write(std::string_view key) override;
  uint64_t revision() override;
  uint64_t compacted_revision() override { return compacted_.load(); }
  Status compact() override;
  Stats stats() override;
  Status health() override;

 private:
  using SnapshotRef = std::shared_ptr<const rdb::Snapshot>;
  struct ListChain {
    SnapshotRef snapshot;
    uint64_t revision = 0;
    std::chrono::steady_clock::time_point expires;
  };

  Result<std::vector<Event>> read_history(uint64_t after, size_t max_events) override;

  Result<KeyState> current_state_locked(std::string_view key);
  // The state of an existing key that a write may replace: kUnavailable or
  // the sticky failure when not writable, kNotFound, kConflict.
  Result<KeyState> existing_state_locked(std::string_view key, const Preconditions& preconditions);
  // Assigns the create's revision, uid and creation time and builds its
  // write; kAlreadyExists, or not writable.
  Result<std::pair<PendingWrite, KeyState>> prepare_create_locked(std::string_view key,
                                                                  Json object);
  // Queues `write` and records `state` as the key's latest; returns the
  // batch it joined. Releases `lock`.
  std::shared_ptr<BatchWaiters> enqueue(std::unique_lock<std::mutex>& lock, PendingWrite write,
                                        KeyState state);
  // enqueue(), then waits until the write is durable.
  Status commit(std::unique_lock<std::mutex>& lock, PendingWrite write, KeyState state);
  Status writable_locked() const;
  void commit_loop();
  void compaction_loop();
  Result<uint64_t> read_counter(std::string_view name, const rdb::Snapshot* snapshot);
  SnapshotRef take_snapshot();
  void expire_chains_locked(std::chrono::steady_clock::time_point now);

  const Options options_;
  std::unique_ptr<rdb::DB> db_;
  rdb::ColumnFamilyHandle* objects_ = nullptr;
  rdb::ColumnFamilyHandle* revlog_ = nullptr;
  std::vector<rdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<WatchHub> hub_;

  std::mutex mu_;  // sequencer state below
  std::condition_variable work_cv_;
  std::shared_ptr<BatchWaiters> queued_batch_ = std::make_shared<BatchWaiters>();
  std::condition_variable durable_cv_;  // a pending write of a key is gone
  uint64_t last_assigned_ = 0;
  uint64_t committed_ = 0;
  std::unordered_map<std::string, KeyState> pending_;
  std::vector<PendingWrite> queue_;
  Status failure_;  // sticky: a failed WAL write leaves the overlay unusable
  bool stopping_ = false;
  uint64_t writes_ = 0;
  uint64_t batches_ = 0;

  std::atomic<uint64_t> compacted_{0};
  std::mutex compaction_mu_;

  std::mutex chains_mu_;
  std::map<uint64_t, ListChain> chains_;  // by id, i.e. by age
  uint64_t next_chain_id_ = 1;

  std::thread committer_;
  std::thread compactor_;
  std::condition_variable stop_cv_;
};

RocksStore::~RocksStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  stop_cv_.notify_all();
  if (committer_.joinable()) committer_.join();  // drains the queue first
  if (compactor_.joinable()) compactor_.join();
  if (hub_) hub_->close();
  {
    std::lock_guard lock(chains_mu_);
    chains_.clear();
  }
  for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
  if (db_) db_->Close().PermitUncheckedError();
}

Status RocksStore::open() {
  rdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  // Memory must not grow with the number of writes: RocksDB's defaults let
  // each column family keep two 64 MiB memtables (384 MiB here), which
  // scale_bench showed as soltid's RSS growing by ~20 KiB per stored Task.
  // All memtables together stay under 32 MiB, and point reads share one
  // block cache of 8 MiB (scans bypass it, see scan_options). The soak saw
  // a 16 MiB cache take four minutes to fill, growing soltid's RSS by 10%.
  db_options.write_buffer_manager = std::make_shared<rdb::WriteBufferManager>(32 << 20);
  rdb::BlockBasedTableOptions table_options;
  table_options.block_cache = rdb::NewLRUCache(8 << 20);
  // Every create looks its key up first, and the key is new: without a
  // filter that miss reads an index and a data block from every table.
  table_options.filter_policy.reset(rdb::NewBloomFilterPolicy(10));
  rdb::ColumnFamilyOptions family_options;
  family_options.write_buffer_size = 8 << 20;
  family_options.max_write_buffer_number = 2;
  family_options.table_factory.reset(rdb::NewBlockBasedTableFactory(table_options));
  std::vector<rdb::ColumnFamilyDescriptor> families = {
      {rdb::kDefaultColumnFamilyName, family_options},
      {"objects", family_options},
      {"revlog", family_options},
  };
  rdb::DB* raw = nullptr;
  rdb::Status s = rdb::DB::Open(db_options, options_.path, families, &handles_, &raw);
  if (!s.ok()) return internal("opening the store at " + options_.path, s);
  db_.reset(raw);
  objects_ = handles_[1];
  revlog_ = handles_[2];

  auto revision = read_counter(kRevisionKey, nullptr);
  if (!revision.ok()) return revision.status();
  auto compacted = read_counter(kCompactedKey, nullptr);
  if (!compacted.ok()) return compacted.status();
  last_assigned_ = committed_ = *revision;
  compacted_ = *compacted;
  hub_ = std::make_unique<WatchHub>(options_.watch_cache_events, options_.watch_cache_bytes,
                                    committed_);
  committer_ = std::thread([this] { commit_loop(); });
  if (options_.compaction_interval.count() > 0) {
    compactor_ = std::thread([this] { compaction_loop(); });
  }
  return Status::Ok();
}

Result<uint64_t> RocksStore::read_counter(std::string_view name, const rdb::Snapshot* snapshot) {
  rdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  std::string bytes;
  rdb::Status s = db_->Get(read_options, db_->DefaultColumnFamily(),
                           rdb::Slice(name.data(), name.size()), &bytes);
  if (s.IsNotFound()) return uint64_t{0};
  if (!s.ok()) return internal("reading " + std::string(name), s);
  auto value = decode_revision_key(bytes);
  if (!value) return Status(StatusCode::kInternal, "corrupt counter " + std::string(name));
  return *value;
}

Status RocksStore::writable_locked() const {
  if (!failure_.ok()) return failure_;
  if (stopping_) return Status(StatusCode::kUnavailable, "store is closing");
  return Status::Ok();
}

Result<KeyState> RocksStore::current_state_locked(std::string_view key) {
  if (auto it = pending_.find(std::string(key)); it != pending_.end()) return it->second;
  std::string bytes;
  rdb::Status s =
      db_->Get(rdb::ReadOptions(), objects_, rdb::Slice(key.data(), key.size()), &bytes);
  if (s.IsNotFound()) return KeyState{};
  if (!s.ok()) return internal("reading " + std::string(key), s);
  auto record = decode_object_record(bytes);
  if (!record) return Status(StatusCode::kInternal, "corrupt record at " + std::string(key));
  KeyState state;
  state.exists = true;
  state.create_revision = record->create_revision;
  state.mod_revision = record->mod_revision;
  state.create_time_ms = record->create_time_ms;
  state.uid = std::move(record->uid);
  state.value = std::make_shared<const std::string>(std::move(record->json));
  return state;
}

Result<KeyState> RocksStore::existing_state_locked(std::string_view key,
                                                   const Preconditions& preconditions) {
  if (Status s = writable_locked(); !s.ok()) return s;
  auto current = current_state_locked(key);
  if (!current.ok()) return current.status();
  if (!current->exists) return Status(StatusCode::kNotFound, std::string(key) + " not found");
  if (Status s = check_preconditions(key, *current, preconditions); !s.ok()) return s;
  return current;
}

std::shared_ptr<BatchWaiters> RocksStore::enqueue(std::unique_lock<std::mutex>& lock,
                                                  PendingWrite write, KeyState state) {
  pending_[write.key] = std::move(state);
  queue_.push_back(std::move(write));
  work_cv_.notify_one();
  auto batch = queued_batch_;
  lock.unlock();
  return batch;
}

Status RocksStore::commit(std::unique_lock<std::mutex>& lock, PendingWrite write, KeyState state) {
  const auto batch = enqueue(lock, std::move(write), std::move(state));
  std::unique_lock wait(batch->mu);
  batch->done_cv.wait(wait, [&] { return batch->done; });
  return batch->status;
}

Result<std::pair<PendingWrite, KeyState>> RocksStore::prepare_create_locked(std::string_view key,
                                                                            Json object) {
  if (key.empty()) return Status(StatusCode::kBadRequest, "empty key");
  if (Status s = writable_locked(); !s.ok()) return s;
  auto current = current_state_locked(key);
  if (!current.ok()) return current.status();
  if (current->exists)
    return Status(StatusCode::kAlreadyExists, std::string(key) + " already exists");

  const uint64_t revision = last_assigned_ + 1;
  // creationTimestamp has second precision, as Kubernetes' metav1.Time.
  const int64_t now = to_ms(std::chrono::floor<std::chrono::seconds>(options_.clock->now()));
  std::string uid = new_uuid();
  if (Status s = stamp_metadata(object, uid, now, revision); !s.ok()) return s;
  ++last_assigned_;

  auto value = stored_text(object);
  PendingWrite write{revision,
                     std::string(key),
                     EventType::kAdded,
                     value,
                     nullptr,
                     encode_object_record({revision, revision, now, uid, *value}),
                     now,
                     {}};
  KeyState state{true, revision, revision, now, uid, value};
  return std::pair{std::move(write), std::move(state)};
}

Result<StoredObject> RocksStore::create(std::string_view key, Json object) {
  std::unique_lock lock(mu_);
  auto prepared = prepare_create_locked(key, std::move(object));
  if (!prepared.ok()) return prepared.status();
  auto& [write, state] = *prepared;
  StoredObject created = created_object(write, state);
  if (Status s = commit(lock, std::move(write), std::move(state)); !s.ok()) return s;
  return created;
}

void RocksStore::create_async(std::string_view key, Json object,
                              std::function<void(Result<StoredObject>)> done) {
  std::unique_lock lock(mu_);
  auto prepared = prepare_create_locked(key, std::move(object));
  if (!prepared.ok()) {
    lock.unlock();
    return done(prepared.status());
  }
  auto& [write, state] = *prepared;
  write.on_durable = [done = std::move(done),
                      created = created_object(write, state)](const Status& outcome) {
    if (outcome.ok()) return done(created);
    done(outcome);
  };
  enqueue(lock, std::move(write), std::move(state));
}

Result<StoredObject> RocksStore::update(std::string_view key, Json object,
                                        const Preconditions& preconditions) {
  std::unique_lock lock(mu_);
  auto current = existing_state_locked(key, preconditions);
  if (!current.ok()) return current.status();

  const uint64_t revision = last_assigned_ + 1;
  const int64_t now = to_ms(options_.clock->now());
  if (Status s = stamp_metadata(object, current->uid, current->create_time_ms, revision); !s.ok())
    return s;
  ++last_assigned_;

  auto value = stored_text(object);
  PendingWrite write{revision,
                     std::string(key),
                     EventType::kModified,
                     value,
                     current->value,
                     encode_object_record({current->create_revision, revision,
                                           current->create_time_ms, current->uid, *value}),
                     now,
                     {}};
  KeyState state{true, current->create_revision, revision, current->create_time_ms, current->uid,
                 value};
  if (Status s = commit(lock, std::move(write), std::move(state)); !s.ok()) return s;
  return StoredObject{std::string(key), value, current->create_revision, revision, current->uid};
}

Result<StoredObject> RocksStore::remove(std::string_view key, const Preconditions& preconditions) {
  std::unique_lock lock(mu_);
  auto current = existing_state_locked(key, preconditions);
  if (!current.ok()) return current.status();

  const uint64_t revision = ++last_assigned_;
  const int64_t now = to_ms(options_.clock->now());
  // The DELETED event carries the last state at the revision of the delete.
  Json last = Json::parse(*current->value, nullptr, /*allow_exceptions=*/false);
  if (last.is_object() && last["metadata"].is_object()) {
    last["metadata"]["resourceVersion"] = std::to_string(revision);
  }
  auto value = stored_text(last);
  PendingWrite write{
      revision, std::string(key), EventType::kDeleted, value, current->value, "", now, {}};
  KeyState state;
  state.mod_revision = revision;
  if (Status s = commit(lock, std::move(write), std::move(state)); !s.ok()) return s;
  return StoredObject{std::string(key), value, current->create_revision, revision, current->uid};
}

void RocksStore::commit_loop() {
  while (true) {
    std::vector<PendingWrite> batch;
    std::shared_ptr<BatchWaiters> waiters;
    Status failed;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and everything queued is committed
      batch.swap(queue_);
      waiters = std::exchange(queued_batch_, std::make_shared<BatchWaiters>());
      failed = failure_;
    }
    // Writes queued behind a failed batch fail with it: their revisions
    // would follow ones that were never committed.
    if (!failed.ok()) {
      finish_batch(batch, *waiters, failed);
      continue;
    }

    rdb::WriteBatch write_batch;
    std::vector<Event> events;
    events.reserve(batch.size());
    for (const auto& w : batch) {
      if (w.type == EventType::kDeleted) {
        write_batch.Delete(objects_, w.key);
      } else {
        write_batch.Put(objects_, w.key, w.record);
      }
      std::optional<std::string> prev;
      if (w.prev_value) prev = *w.prev_value;
      write_batch.Put(revlog_, encode_revision_key(w.revision),
                      encode_event_record({w.type, w.time_ms, w.key, *w.value, std::move(prev)}));
      events.push_back({w.type, w.revision, w.key, w.value, w.prev_value});
    }
    const uint64_t last = batch.back().revision;
    write_batch.Put(db_->DefaultColumnFamily(), kRevisionKey, encode_revision_key(last));

    rdb::WriteOptions write_options;
    write_options.sync = options_.sync_writes;
    rdb::Status s = db_->Write(write_options, &write_batch);
    if (!s.ok()) {
      Status failure = internal("writing to the store", s);
      {
        std::lock_guard lock(mu_);
        failure_ = failure;
      }
      finish_batch(batch, *waiters, failure);
      durable_cv_.notify_all();
      continue;
    }

    {
      std::lock_guard lock(mu_);
      for (const auto& w : batch) {
        auto it = pending_.find(w.key);
        if (it != pending_.end() && it->second.mod_revision == w.revision) pending_.erase(it);
      }
      committed_ = last;
      writes_ += batch.size();
      ++batches_;
    }
    // After committed_ moved: a client may name an event's revision (a list
    // or watch from it) the moment it sees the event.
    hub_->publish(std::move(events));
    finish_batch(batch, *waiters, Status::Ok());
    durable_cv_.notify_all();
  }
}

Result<StoredObject> RocksStore::get(std::string_view key) {
  std::string bytes;
  rdb::Status s =
      db_->Get(rdb::ReadOptions(), objects_, rdb::Slice(key.data(), key.size()), &bytes);
  if (s.IsNotFound()) return Status(StatusCode::kNotFound, std::string(key) + " not found");
  if (!s.ok()) return internal("reading " + std::string(key), s);
  auto record = decode_object_record(bytes);
  if (!record) return Status(StatusCode::kInternal, "corrupt record at " + std::string(key));
  return StoredObject{std::string(key),
                      std::make_shared<const std::string>(std::move(record->json)),
                      record->create_revision, record->mod_revision, std::move(record->uid)};
}

RocksStore::SnapshotRef RocksStore::take_snapshot() {
  rdb::DB* db = db_.get();
  return SnapshotRef(db->GetSnapshot(), [db](const rdb::Snapshot* s) { db->ReleaseSnapshot(s); });
}

void RocksStore::expire_chains_locked(std::chrono::steady_clock::time_point now) {
  const uint64_t compacted = compacted_.load();
  for (auto it = chains_.begin(); it != chains_.end();) {
    if (it->second.expires <= now || it->second.revision < compacted) {
      it = chains_.erase(it);
    } else {
      ++it;
    }
  }
}

Result<ListResult> RocksStore::list(const ListOptions& options) {
  ListResult result;
  SnapshotRef snapshot;
  uint64_t chain_id = 0;
  std::string start = options.prefix;
  bool skip_start = false;
  const auto now = options_.clock->steady_now();

  if (!options.continue_token.empty()) {
    auto token = decode_continue_token(options.continue_token);
    if (!token.ok()) return token.status();
    if (token->prefix != options.prefix) {
      return Status(StatusCode::kBadRequest, "continue token was issued for another list");
    }
    std::lock_guard lock(chains_mu_);
    expire_chains_locked(now);
    auto it = chains_.find(token->snapshot_id);
    if (it == chains_.end() || it->second.revision != token->revision) {
      return Status(StatusCode::kExpired,
                    "the provided continue parameter is too old to display a consistent list "
                    "result; start a new list without the continue parameter");
    }
    snapshot = it->second.snapshot;
    result.revision = it->second.revision;
    it->second.expires = now + options_.list_snapshot_ttl;
    chain_id = token->snapshot_id;
    start = token->last_key;
    skip_start = true;
  } else {
    snapshot = take_snapshot();
    auto revision = read_counter(kRevisionKey, snapshot.get());
    if (!revision.ok()) return revision.status();
    result.revision = *revision;
  }

  std::unique_ptr<rdb::Iterator> it(db_->NewIterator(scan_options(snapshot.get()), objects_));
  bool more = false;
  for (it->Seek(start); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (!has_prefix(key, options.prefix)) break;
    if (skip_start && key == start) continue;
    auto record = decode_object_record(std::string_view(it->value().data(), it->value().size()));
    if (!record) return Status(StatusCode::kInternal, "corrupt record at " + std::string(key));
    StoredObject object{std::string(key),
                        std::make_shared<const std::string>(std::move(record->json)),
                        record->create_revision, record->mod_revision, std::move(record->uid)};
    if (options.filter && !options.filter(object)) continue;
    if (options.limit > 0 && result.items.size() == options.limit) {
      more = true;  // another matching object exists: this page is not the last
      break;
    }
    result.items.push_back(std::move(object));
  }
  if (!it->status().ok()) return internal("listing " + options.prefix, it->status());

  std::lock_guard lock(chains_mu_);
  if (more) {
    if (chain_id == 0) {
      chain_id = next_chain_id_++;
      chains_[chain_id] = {snapshot, result.revision, now + options_.list_snapshot_ttl};
      while (chains_.size() > options_.max_list_snapshots) chains_.erase(chains_.begin());
    }
    result.continue_token =
        encode_continue_token({result.revision, chain_id, options.prefix, result.items.back().key});
  } else if (chain_id != 0) {
    chains_.erase(chain_id);
  }
  return result;
}

Result<std::vector<Event>> RocksStore::read_history(uint64_t after, size_t max_events) {
  if (after < compacted_.load()) {
    return Status(StatusCode::kExpired, "too old resource version: " + std::to_string(after) +
                                            " (history is compacted up to " +
                                            std::to_string(compacted_.load()) + ")");
  }
  std::vector<Event> events;
  std::unique_ptr<rdb::Iterator> it(db_->NewIterator(scan_options(nullptr), revlog_));
  uint64_t expected = after + 1;
  for (it->Seek(encode_revision_key(expected)); it->Valid() && events.size() < max_events;
       it->Next()) {
    auto revision = decode_revision_key(std::string_view(it->key().data(), it->key().size()));
    auto record = decode_event_record(std::string_view(it->value().data(), it->value().size()));
    if (!revision || !record) return Status(StatusCode::kInternal, "corrupt revision log");
    if (*revision != expected) {
      // Compaction removed the start of what this reader needs.
      return Status(StatusCode::kExpired, "too old resource version: " + std::to_string(after));
    }
    std::shared_ptr<const std::string> prev;
    if (record->prev_value)
      prev = std::make_shared<const std::string>(std::move(*record->prev_value));
    events.push_back({record->type, *revision, std::move(record->key),
                      std::make_shared<const std::string>(std::move(record->value)),
                      std::move(prev)});
    ++expected;
  }
  if (!it->status().ok()) return internal("reading the revision log", it->status());
  return events;
}

Result<std::unique_ptr<Watcher>> RocksStore::watch(std::string prefix, uint64_t after_revision) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status(StatusCode::kUnavailable, "store is closing");
  }
  if (after_revision < compacted_.load()) {
    return Status(StatusCode::kExpired,
                  "too old resource version: " + std::to_string(after_revision) + " (" +
                      std::to_string(compacted_.load()) + ")");
  }
  return hub_->watch(std::move(prefix), after_revision, this);
}

void RocksStore::wait_for_pending_write(std::string_view key) {
  std::unique_lock lock(mu_);
  durable_cv_.wait(lock, [&] { return !pending_.count(std::string(key)) || !failure_.ok(); });
}

uint64_t RocksStore::revision() {
  std::lock_guard lock(mu_);
  return committed_;
}

Stats RocksStore::stats() {
  Stats stats;
  {
    std::lock_guard lock(mu_);
    stats.writes = writes_;
    stats.commit_batches = batches_;
  }
  stats.watchers = hub_->watchers();
  stats.watch_cache_bytes = hub_->cached_bytes();
  auto property = [&](const rdb::Slice& name) {
    uint64_t value = 0;
    return db_->GetAggregatedIntProperty(name, &value) ? value : 0;
  };
  stats.memtable_bytes = property(rdb::DB::Properties::kSizeAllMemTables);
  stats.table_reader_bytes = property(rdb::DB::Properties::kEstimateTableReadersMem);
  // Every column family shares the one cache, so any of them reports it.
  uint64_t cache = 0;
  if (db_->GetIntProperty(rdb::DB::Properties::kBlockCacheUsage, &cache)) {
    stats.block_cache_bytes = cache;
  }
  return stats;
}

Status RocksStore::health() {
  std::lock_guard lock(mu_);
  return failure_;
}

Status RocksStore::compact() {
  std::lock_guard compaction_lock(compaction_mu_);
  const uint64_t current = revision();
  if (current <= options_.min_retention_revisions) return Status::Ok();
  const uint64_t newest_allowed = current - options_.min_retention_revisions;
  const int64_t cutoff_ms = to_ms(options_.clock->now()) - options_.min_retention_time.count();

  const uint64_t from = compacted_.load();
  uint64_t to = from;
  std::unique_ptr<rdb::Iterator> it(db_->NewIterator(scan_options(nullptr), revlog_));
  for (it->Seek(encode_revision_key(from + 1)); it->Valid(); it->Next()) {
    auto revision = decode_revision_key(std::string_view(it->key().data(), it->key().size()));
    auto time = event_record_time(std::string_view(it->value().data(), it->value().size()));
    if (!revision || !time) return Status(StatusCode::kInternal, "corrupt revision log");
    if (*revision > newest_allowed || *time > cutoff_ms) break;
    to = *revision;
  }
  if (!it->status().ok()) return internal("scanning the revision log", it->status());
  if (to == from) return Status::Ok();

  rdb::WriteBatch batch;
  std::string begin = encode_revision_key(from + 1), end = encode_revision_key(to + 1);
  batch.DeleteRange(revlog_, begin, end);
  batch.Put(db_->DefaultColumnFamily(), kCompactedKey, encode_revision_key(to));
  rdb::WriteOptions write_options;
  write_options.sync = options_.sync_writes;
  rdb::Status s = db_->Write(write_options, &batch);
  if (!s.ok()) return internal("compacting the revision log", s);
  compacted_ = to;

  std::lock_guard lock(chains_mu_);
  expire_chains_locked(options_.clock->steady_now());
  return Status::Ok();
}

void RocksStore::compaction_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, options_.compaction_interval, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    compact().ok();  // a failed compaction is retried on the next tick
    lock.lock();
  }
}

}  // namespace

Result<std::unique_ptr<Store>> open_rocksdb_store(const Options& options) {
  auto store = std::make_unique<RocksStore>(options);
  if (Status s = store->open(); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace solti::store
