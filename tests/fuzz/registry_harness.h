// The Registry of the Task resource over an in-memory Store, for the
// targets that fuzz writes (merge and JSON patch, server-side apply): every
// step of the server's write path runs but RocksDB and the disk, so one
// execution takes microseconds and leaves nothing behind.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "apiserver/managed_fields.h"
#include "apiserver/registry.h"
#include "apiserver/resources.h"
#include "model/clock.h"
#include "model/uuid.h"
#include "store/store.h"
#include "tests/fuzz/fuzz_support.h"

namespace solti::fuzz {

// Everything a Registry needs of a store, kept in a map: get, create, update
// and remove with the store's metadata stamping and preconditions (see
// store/rocksdb_store.cc). No history, lists or watches.
class MemoryStore final : public store::Store {
 public:
  explicit MemoryStore(const Clock& clock) : clock_(clock) {}

  Result<store::StoredObject> get(std::string_view key) override {
    auto it = objects_.find(std::string(key));
    if (it == objects_.end()) return Status(StatusCode::kNotFound, "not found");
    return it->second;
  }
  Result<store::ListResult> list(const store::ListOptions&) override {
    return Status(StatusCode::kInternal, "MemoryStore does not list");
  }
  Result<store::StoredObject> create(std::string_view key, Json object) override {
    if (objects_.count(std::string(key)))
      return Status(StatusCode::kAlreadyExists, "already exists");
    const uint64_t revision = ++revision_;
    const std::string uid = new_uuid();
    const int64_t created_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch())
            .count();
    if (Status s = store::stamp_metadata(object, uid, created_ms, revision); !s.ok()) return s;
    created_ms_[std::string(key)] = created_ms;
    return objects_[std::string(key)] = {std::string(key), text(object), revision, revision, uid};
  }
  Result<store::StoredObject> update(std::string_view key, Json object,
                                     const store::Preconditions& preconditions) override {
    auto it = objects_.find(std::string(key));
    if (it == objects_.end()) return Status(StatusCode::kNotFound, "not found");
    store::StoredObject& current = it->second;
    if (Status s = check(current, preconditions); !s.ok()) return s;
    const uint64_t revision = ++revision_;
    if (Status s =
            store::stamp_metadata(object, current.uid, created_ms_[std::string(key)], revision);
        !s.ok())
      return s;
    current.value = text(object);
    current.mod_revision = revision;
    return current;
  }
  Result<store::StoredObject> remove(std::string_view key,
                                     const store::Preconditions& preconditions) override {
    auto it = objects_.find(std::string(key));
    if (it == objects_.end()) return Status(StatusCode::kNotFound, "not found");
    if (Status s = check(it->second, preconditions); !s.ok()) return s;
    store::StoredObject removed = std::move(it->second);
    objects_.erase(it);
    ++revision_;
    return removed;
  }
  Result<std::unique_ptr<store::Watcher>> watch(std::string, uint64_t) override {
    return Status(StatusCode::kUnavailable, "MemoryStore does not watch");
  }
  std::unique_ptr<store::PublishSubscription> on_publish(std::function<void()>) override {
    return std::make_unique<store::PublishSubscription>();
  }
  uint64_t revision() override { return revision_; }
  uint64_t compacted_revision() override { return 0; }
  Status compact() override { return Status::Ok(); }
  store::Stats stats() override { return {}; }
  Status health() override { return Status::Ok(); }

 private:
  static std::shared_ptr<const std::string> text(const Json& object) {
    return std::make_shared<const std::string>(json_text(object));
  }
  static Status check(const store::StoredObject& current,
                      const store::Preconditions& preconditions) {
    if ((preconditions.uid && *preconditions.uid != current.uid) ||
        (preconditions.revision && *preconditions.revision != current.mod_revision))
      return Status(StatusCode::kConflict, "precondition failed");
    return Status::Ok();
  }

  const Clock& clock_;
  std::map<std::string, store::StoredObject> objects_;
  std::map<std::string, int64_t> created_ms_;  // each key's creation time, kept across updates
  uint64_t revision_ = 0;
};

// A Task as `kubectl apply` (client side) would have created it: labels,
// annotations, a finalizer and a full spec, so that patches and applies
// meet fields owned by another manager.
inline Json live_task_object() {
  return Json::parse(R"({
    "apiVersion": "solti.io/v1",
    "kind": "Task",
    "metadata": {
      "name": "fuzzed",
      "labels": {"team": "data", "tier": "batch"},
      "annotations": {"note": "seed"},
      "finalizers": ["example.com/keep"]
    },
    "spec": {
      "timeout": "10m",
      "restartPolicy": "OnFailure",
      "maxRetries": 3,
      "backoff": {"first": "1s", "max": "30s", "factor": 2, "jitter": "Full"},
      "runnerSelector": {"matchLabels": {"solti.io/runner": "subprocess"}},
      "subprocess": {"command": "/usr/bin/pg_dump", "args": ["--all"],
                     "env": [{"name": "PGHOST", "value": "db"}]}
    }
  })");
}

// What every object the registry writes must satisfy, whatever the request:
//  - it is valid for its strategy (the store never holds an invalid object);
//  - every field a manager owns exists in it (managedFields never names a
//    field the object does not have);
//  - its field set survives the FieldsV1 encoding.
inline void check_written_object(const api::Strategy& strategy, const Json& object) {
  FieldErrors errors = strategy.validate(object);
  FUZZ_CHECK(errors.empty(), "a written object is invalid: %s\n%s",
             join_field_errors(errors).c_str(), json_text(object).c_str());

  const Json metadata = object.value("metadata", Json::object());
  for (const Json& entry : metadata.value("managedFields", Json::array())) {
    for (const auto& path : api::decode_fields_v1(entry.value("fieldsV1", Json::object()))) {
      const Json* node = &object;
      for (const auto& segment : path) {
        auto child = node->is_object() ? node->find(segment) : node->end();
        node = child != node->end() ? &*child : nullptr;
        if (node == nullptr) break;
      }
      std::string dotted;
      for (const auto& segment : path) dotted += "." + segment;
      FUZZ_CHECK(node != nullptr, "manager %s owns %s, which the object lacks:\n%s",
                 entry.value("manager", "").c_str(), dotted.c_str(), json_text(object).c_str());
    }
  }

  for (bool status : {false, true}) {
    const api::FieldSet fields = api::field_set(object, status);
    FUZZ_CHECK(api::decode_fields_v1(api::encode_fields_v1(fields)) == fields,
               "a field set does not survive FieldsV1: %s", json_text(object).c_str());
  }
}

// A fresh store holding live_task_object(), created by a client-side
// kubectl apply, and the registry in front of it.
struct TaskRegistry {
  FakeClock clock;
  MemoryStore store{clock};
  std::unique_ptr<api::Strategy> strategy = api::make_task_strategy();
  api::Registry registry{store, *strategy, clock};

  static constexpr const char* kNamespace = "default";
  static constexpr const char* kName = "fuzzed";

  void create_live_object() {
    api::WriteOptions options;
    options.field_manager = "kubectl-client-side-apply";
    auto created = registry.create(kNamespace, live_task_object(), options);
    FUZZ_CHECK(created.ok(), "the live object cannot be created: %s",
               created.status().to_string().c_str());
  }
  Json stored() {
    auto object = registry.get(kNamespace, kName);
    FUZZ_CHECK(object.ok(), "the object is gone: %s", object.status().to_string().c_str());
    return *object;
  }
};

}  // namespace solti::fuzz
