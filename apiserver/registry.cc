#include "apiserver/registry.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <limits>
#include <random>

#include "apiserver/handoff_server.h"
#include "apiserver/managed_fields.h"
#include "model/json_codec.h"

namespace solti::api {
namespace {

// Retries of a write that lost a compare-and-swap race. Every loss means
// another write succeeded, so this bounds only how long one writer can be
// outrun; 16 was exceeded by 8 writers racing on one object.
constexpr int kMaxConflictRetries = 1000;

Json parse(const std::string& text) { return Json::parse(text, nullptr, false); }

// Starts a write that answers through a callback and waits for the answer.
template <typename Start>
Result<WriteResult> wait_for_write(Start start) {
  std::promise<Result<WriteResult>> answer;
  start([&answer](Result<WriteResult> outcome) { answer.set_value(std::move(outcome)); });
  HandoffServer::about_to_block();
  return answer.get_future().get();
}

std::string string_at(const Json& object, std::string_view section, std::string_view field) {
  auto s = object.find(section);
  if (s == object.end() || !s->is_object()) return "";
  auto f = s->find(field);
  return f != s->end() && f->is_string() ? f->get<std::string>() : "";
}

Json& metadata_of(Json& object) {
  Json& meta = object["metadata"];
  if (!meta.is_object()) meta = Json::object();
  return meta;
}

std::string random_suffix() {
  // The alphabet Kubernetes uses for generateName: no vowels, no look-alikes.
  static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  thread_local std::mt19937 engine(std::random_device{}());
  std::string out;
  for (int i = 0; i < 5; ++i) out += kAlphabet[engine() % kAlphabet.size()];
  return out;
}

std::vector<std::string> finalizers_of(const Json& object) {
  std::vector<std::string> out;
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return out;
  auto f = meta->find("finalizers");
  if (f == meta->end() || !f->is_array()) return out;
  for (const auto& item : *f) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

bool being_deleted(const Json& object) {
  return !string_at(object, "metadata", "deletionTimestamp").empty();
}

// A resourceVersion the store has not reached was never issued by it (a
// client of another server, or of this one before its data was wiped):
// Kubernetes' "Too large resource version", on which client-go relists.
Status check_reached(store::Store& store, uint64_t requested) {
  const uint64_t current = store.revision();
  if (requested <= current) return Status::Ok();
  return Status(StatusCode::kTimeout,
                "Too large resource version: " + std::to_string(requested) +
                    ", current: " + std::to_string(current),
                {{FieldErrorType::kResourceVersionTooLarge, "", "Too large resource version"}});
}

RawObject raw(const Json& object) { return std::make_shared<const std::string>(json_text(object)); }

}  // namespace

std::optional<uint64_t> parse_resource_version(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = uint64_t(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

bool same_json(const Json& a, const Json& b) {
  if (a.type() != b.type()) {
    return a.is_number() && b.is_number() && a == b;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (const auto& [key, value] : a.items()) {
      auto it = b.find(key);
      if (it == b.end() || !same_json(value, *it)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!same_json(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;
}

Registry::Registry(store::Store& store, const Strategy& strategy, Clock& clock)
    : store_(store), strategy_(strategy), clock_(clock) {}

std::string Registry::key(const std::string& ns, const std::string& name) const {
  return "/" + info().group + "/" + info().plural + "/" + ns + "/" + name;
}

std::string Registry::prefix(const std::string& ns) const {
  std::string p = "/" + info().group + "/" + info().plural + "/";
  if (!ns.empty()) p += ns + "/";
  return p;
}

Status Registry::not_found(const std::string& name) const {
  return Status(StatusCode::kNotFound, info().qualified() + " \"" + name + "\" not found");
}

Status Registry::conflict(const std::string& name) const {
  return Status(StatusCode::kConflict,
                "Operation cannot be fulfilled on " + info().qualified() + " \"" + name +
                    "\": the object has been modified; please apply your changes to the latest "
                    "version and try again");
}

Status Registry::invalid(const std::string& name, FieldErrors errors) const {
  std::string message = info().kind + "." + info().group + " \"" + name + "\" is invalid: ";
  if (errors.size() == 1) {
    message += errors[0].to_string();
  } else {
    message += "[" + join_field_errors(errors) + "]";
  }
  return Status(StatusCode::kInvalid, std::move(message), std::move(errors));
}

Status Registry::handle_unknown_fields(const std::vector<std::string>& unknown,
                                       FieldValidation mode,
                                       std::vector<std::string>& warnings) const {
  if (unknown.empty() || mode == FieldValidation::kIgnore) return Status::Ok();
  if (mode == FieldValidation::kWarn) {
    for (const auto& path : unknown) warnings.push_back("unknown field \"" + path + "\"");
    return Status::Ok();
  }
  std::string message = "strict decoding error: ";
  for (size_t i = 0; i < unknown.size(); ++i) {
    if (i) message += ", ";
    message += "unknown field \"" + unknown[i] + "\"";
  }
  return Status(StatusCode::kBadRequest, std::move(message));
}

bool Registry::matches(const Json& object, const Selector& labels,
                       const FieldSelector& fields) const {
  if (!labels.empty()) {
    Labels object_labels;
    auto meta = object.find("metadata");
    if (meta != object.end() && meta->is_object()) {
      auto l = meta->find("labels");
      if (l != meta->end() && l->is_object()) {
        for (const auto& [k, v] : l->items()) {
          if (v.is_string()) object_labels[k] = v.get<std::string>();
        }
      }
    }
    if (!labels.matches(object_labels)) return false;
  }
  if (!fields.empty()) {
    return fields.matches([&](std::string_view f) { return field_value(object, f); });
  }
  return true;
}

std::vector<std::string_view> Registry::selectable_fields() const {
  std::vector<std::string_view> fields = {"metadata.name", "metadata.namespace"};
  for (auto f : strategy_.selectable_fields()) fields.push_back(f);
  return fields;
}

std::string Registry::field_value(const Json& object, std::string_view field) const {
  if (field == "metadata.name") return string_at(object, "metadata", "name");
  if (field == "metadata.namespace") return string_at(object, "metadata", "namespace");
  return strategy_.field_value(object, field);
}

Result<Json> Registry::get(const std::string& ns, const std::string& name) {
  auto stored = store_.get(key(ns, name));
  if (!stored.ok()) {
    if (stored.status().code() == StatusCode::kNotFound) return not_found(name);
    return stored.status();
  }
  return parse(*stored->value);
}

Result<ListPage> Registry::list(const std::string& ns, const ListQuery& query) {
  if (query.resource_version) {
    if (Status s = check_reached(store_, *query.resource_version); !s.ok()) return s;
  }
  store::ListOptions options{prefix(ns), query.limit, query.continue_token, nullptr};
  if (!query.labels.empty() || !query.fields.empty()) {
    options.filter = [&](const store::StoredObject& o) {
      return matches(parse(*o.value), query.labels, query.fields);
    };
  }
  auto page = store_.list(options);
  if (!page.ok()) return page.status();
  ListPage out;
  out.items.reserve(page->items.size());
  for (auto& item : page->items) out.items.push_back(std::move(item.value));
  out.resource_version = std::to_string(page->revision);
  out.continue_token = std::move(page->continue_token);
  return out;
}

Result<WriteResult> Registry::create(const std::string& ns, Json object,
                                     const WriteOptions& options) {
  return wait_for_write(
      [&](WriteCallback done) { create(ns, std::move(object), options, std::move(done)); });
}

void Registry::create(const std::string& ns, Json object, const WriteOptions& options,
                      WriteCallback done) {
  if (!object.is_object())
    return done(Status(StatusCode::kBadRequest, "the request body must be an object"));
  Json& meta = metadata_of(object);
  std::string body_ns = string_at(object, "metadata", "namespace");
  if (!body_ns.empty() && body_ns != ns) {
    return done(Status(StatusCode::kBadRequest,
                       "the namespace of the provided object does not match the namespace sent "
                       "on the request"));
  }
  meta["namespace"] = ns;
  if (string_at(object, "metadata", "name").empty()) {
    std::string generate = string_at(object, "metadata", "generateName");
    if (!generate.empty()) meta["name"] = generate + random_suffix();
  }
  if (!string_at(object, "metadata", "resourceVersion").empty()) {
    return done(Status(StatusCode::kBadRequest,
                       "resourceVersion should not be set on objects to be created"));
  }
  create_object(ns, std::move(object), options, Ownership::kRecordUpdate, std::move(done));
}

ManagerContext Registry::manager_context(const WriteOptions& options,
                                         Subresource subresource) const {
  return {options.field_manager.empty() ? "unknown" : options.field_manager, info().api_version(),
          subresource == Subresource::kStatus, clock_.now()};
}

void Registry::create_object(const std::string& ns, Json object, const WriteOptions& options,
                             Ownership ownership, WriteCallback done) {
  const std::string name = string_at(object, "metadata", "name");
  WriteResult result;
  Checked checked = strategy_.check_for_create(object);
  // As Kubernetes: strict decoding (unknown fields) fails before validation.
  if (Status s =
          handle_unknown_fields(checked.unknown_fields, options.field_validation, result.warnings);
      !s.ok())
    return done(s);
  if (!checked.errors.empty()) return done(invalid(name, std::move(checked.errors)));
  Json stored = std::move(checked.object);
  Json& stored_meta = metadata_of(stored);
  stored_meta.erase("deletionTimestamp");
  stored_meta.erase("deletionGracePeriodSeconds");
  if (ownership == Ownership::kRecordUpdate) {
    record_update(Json(), stored, manager_context(options, Subresource::kMain));
  }
  result.created = true;

  auto already_exists = [this, name] {
    return Status(StatusCode::kAlreadyExists,
                  info().qualified() + " \"" + name + "\" already exists");
  };
  if (options.dry_run) {
    // What the store would stamp, without a resourceVersion.
    if (store_.get(key(ns, name)).ok()) return done(already_exists());
    stored_meta["creationTimestamp"] = format_rfc3339(clock_.now());
    result.object = raw(stored);
    return done(std::move(result));
  }
  store_.create_async(key(ns, name), std::move(stored),
                      [done = std::move(done), result = std::move(result),
                       already_exists](Result<store::StoredObject> created) mutable {
                        if (!created.ok()) {
                          if (created.status().code() == StatusCode::kAlreadyExists)
                            return done(already_exists());
                          return done(created.status());
                        }
                        result.object = created->value;
                        done(std::move(result));
                      });
}

Result<WriteResult> Registry::write_update(
    const std::string& ns, const std::string& name,
    const std::function<Result<Json>(const Json& current)>& change, Subresource subresource,
    const WriteOptions& options, Ownership ownership) {
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    auto current = store_.get(key(ns, name));
    if (!current.ok()) {
      if (current.status().code() == StatusCode::kNotFound) return not_found(name);
      return current.status();
    }
    const Json old = parse(*current->value);
    auto desired = change(old);
    if (!desired.ok()) return desired.status();
    if (!desired->is_object())
      return Status(StatusCode::kBadRequest, "the object must be a JSON object");

    std::string body_name = string_at(*desired, "metadata", "name");
    if (!body_name.empty() && body_name != name) {
      return Status(StatusCode::kBadRequest, "the name of the object (" + body_name +
                                                 ") does not match the name on the URL (" + name +
                                                 ")");
    }
    std::string body_ns = string_at(*desired, "metadata", "namespace");
    if (!body_ns.empty() && body_ns != ns) {
      return Status(StatusCode::kBadRequest,
                    "the namespace of the provided object does not match the namespace sent on the "
                    "request");
    }
    // As Kubernetes: a write naming another uid was meant for an object of
    // this name that is gone, and must not land on its successor.
    const std::string body_uid = string_at(*desired, "metadata", "uid");
    if (!body_uid.empty() && body_uid != current->uid) {
      return invalid(name, {{FieldErrorType::kInvalid, "metadata.uid",
                             "invalid value \"" + body_uid + "\": field is immutable"}});
    }
    Json& desired_meta = metadata_of(*desired);
    desired_meta["name"] = name;
    desired_meta["namespace"] = ns;
    const std::string requested_rv = string_at(*desired, "metadata", "resourceVersion");
    if (!requested_rv.empty() && requested_rv != std::to_string(current->mod_revision)) {
      return conflict(name);
    }

    WriteResult result;
    Checked checked = strategy_.check(*desired);
    if (Status s = handle_unknown_fields(checked.unknown_fields, options.field_validation,
                                         result.warnings);
        !s.ok())
      return s;
    if (!checked.errors.empty()) return invalid(name, std::move(checked.errors));
    Json updated = std::move(checked.object);
    if (subresource == Subresource::kStatus) {
      strategy_.prepare_for_status_update(updated, old);
      if (FieldErrors errors = strategy_.validate(updated); !errors.empty())
        return invalid(name, std::move(errors));
    } else {
      strategy_.prepare_for_update(updated, old);
    }
    // Metadata only the server sets comes from the stored object.
    Json& meta = metadata_of(updated);
    const Json& old_meta = old["metadata"];
    for (const char* field : {"uid", "creationTimestamp", "resourceVersion", "deletionTimestamp",
                              "deletionGracePeriodSeconds"}) {
      if (old_meta.contains(field)) {
        meta[field] = old_meta[field];
      } else {
        meta.erase(field);
      }
    }
    if (being_deleted(old)) {
      std::vector<std::string> before = finalizers_of(old);
      for (const auto& f : finalizers_of(updated)) {
        if (std::find(before.begin(), before.end(), f) == before.end()) {
          return invalid(name, {{FieldErrorType::kForbidden, "metadata.finalizers",
                                 "no new finalizers can be added if the object is being deleted, "
                                 "found new finalizer \"" +
                                     f + "\""}});
        }
      }
    }

    if (ownership == Ownership::kRecordUpdate) {
      record_update(old, updated, manager_context(options, subresource));
    }
    if (same_json(updated, old)) {  // nothing changes: nothing is written
      result.object = current->value;
      return result;
    }
    if (options.dry_run) {
      result.object = raw(updated);
      return result;
    }
    store::Preconditions preconditions{current->mod_revision, current->uid};
    // The store answers once the write is durable; the hand-over holds for
    // the rest of the request (a retry's wait too).
    HandoffServer::about_to_block();
    if (being_deleted(updated) && finalizers_of(updated).empty()) {
      auto removed = store_.remove(key(ns, name), preconditions);
      if (removed.ok()) {
        result.object = removed->value;
        return result;
      }
      if (removed.status().code() != StatusCode::kConflict) return removed.status();
    } else {
      auto written = store_.update(key(ns, name), std::move(updated), preconditions);
      if (written.ok()) {
        result.object = written->value;
        return result;
      }
      if (written.status().code() != StatusCode::kConflict) return written.status();
    }
    // Lost a race with another writer: try again on the new state, once
    // it is durable. A resourceVersion the user sent no longer matches it
    // (409 above); one a patch or apply took over from the live object is
    // taken again.
    store_.wait_for_pending_write(key(ns, name));
  }
  return conflict(name);
}

Result<WriteResult> Registry::update(const std::string& ns, const std::string& name, Json object,
                                     Subresource subresource, const WriteOptions& options) {
  return write_update(
      ns, name, [&](const Json&) -> Result<Json> { return object; }, subresource, options,
      Ownership::kRecordUpdate);
}

Result<WriteResult> Registry::patch(const std::string& ns, const std::string& name, PatchType type,
                                    const Json& patch, Subresource subresource,
                                    const WriteOptions& options) {
  if (type == PatchType::kJson && !patch.is_array()) {
    return Status(StatusCode::kBadRequest, "a JSON patch must be a list of operations");
  }
  auto apply = [&](const Json& current) -> Result<Json> {
    Json result = current;
    if (type == PatchType::kMerge) {
      if (!patch.is_object())
        return Status(StatusCode::kBadRequest, "a merge patch must be a JSON object");
      result.merge_patch(patch);
      return result;
    }
    try {
      return current.patch(patch);
    } catch (const Json::exception& e) {
      return Status(StatusCode::kInvalid,
                    std::string("the JSON patch could not be applied: ") + e.what());
    }
  };
  return write_update(ns, name, apply, subresource, options, Ownership::kRecordUpdate);
}

Result<WriteResult> Registry::apply(const std::string& ns, const std::string& name,
                                    const Json& configuration, Subresource subresource,
                                    const WriteOptions& options, bool force) {
  if (!configuration.is_object()) {
    return Status(StatusCode::kBadRequest, "the applied configuration must be an object");
  }
  if (options.field_manager.empty()) {
    return Status(StatusCode::kBadRequest, "fieldManager is required for server-side apply");
  }
  Json config = configuration;
  Json& meta = metadata_of(config);
  for (auto [field, expected] :
       {std::pair<const char*, const std::string&>{"name", name}, {"namespace", ns}}) {
    std::string given = string_at(config, "metadata", field);
    if (!given.empty() && given != expected) {
      return Status(StatusCode::kBadRequest, std::string("metadata.") + field + " \"" + given +
                                                 "\" does not match the request (\"" + expected +
                                                 "\")");
    }
    meta[field] = expected;
  }
  if (meta.contains("managedFields")) {
    return Status(StatusCode::kBadRequest,
                  "metadata.managedFields must not be set in an applied configuration");
  }

  // The configuration is partial: only its unknown fields and the kind are
  // checked here; the merged object is validated as a whole below.
  WriteResult warnings_only;
  Checked checked = strategy_.check(config);
  if (Status s = handle_unknown_fields(checked.unknown_fields, options.field_validation,
                                       warnings_only.warnings);
      !s.ok())
    return s;
  FieldErrors type_errors;
  for (auto& e : checked.errors) {
    if (e.field == "apiVersion" || e.field == "kind") type_errors.push_back(std::move(e));
  }
  if (!type_errors.empty()) return invalid(name, std::move(type_errors));
  Json canonical = std::move(checked.object);

  const ManagerContext context = manager_context(options, subresource);
  auto merge = [&](const Json& live) {
    return apply_configuration(live, canonical, context, force);
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto result = write_update(ns, name, merge, subresource, options, Ownership::kAlreadyApplied);
    if (result.ok() || result.status().code() != StatusCode::kNotFound ||
        subresource == Subresource::kStatus) {
      if (result.ok()) result->warnings = warnings_only.warnings;
      return result;
    }
    auto merged = merge(Json());
    if (!merged.ok()) return merged.status();
    auto created = wait_for_write([&](WriteCallback done) {
      create_object(ns, std::move(merged).value(), options, Ownership::kAlreadyApplied,
                    std::move(done));
    });
    if (created.ok()) created->warnings = warnings_only.warnings;
    if (created.ok() || created.status().code() != StatusCode::kAlreadyExists) return created;
    // Created by someone else meanwhile: apply to theirs.
  }
  return conflict(name);
}

Result<Json> Registry::remove(const std::string& ns, const std::string& name,
                              const DeleteOptions& options) {
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    auto current = store_.get(key(ns, name));
    if (!current.ok()) {
      if (current.status().code() == StatusCode::kNotFound) return not_found(name);
      return current.status();
    }
    const std::string rv = std::to_string(current->mod_revision);
    if (options.uid && *options.uid != current->uid) {
      return Status(StatusCode::kConflict,
                    "Precondition failed: UID in precondition: " + *options.uid +
                        ", UID in object meta: " + current->uid);
    }
    if (options.resource_version && *options.resource_version != rv) {
      return Status(StatusCode::kConflict,
                    "Precondition failed: ResourceVersion in precondition: " +
                        *options.resource_version + ", ResourceVersion in object meta: " + rv);
    }
    Json object = parse(*current->value);
    const bool finalized = finalizers_of(object).empty();
    if (!finalized && being_deleted(object)) return object;  // already waiting for finalizers
    if (!finalized) {
      // Graceful deletion: mark it; the object goes when its finalizers do.
      Json& meta = metadata_of(object);
      meta["deletionTimestamp"] =
          format_rfc3339(std::chrono::floor<std::chrono::seconds>(clock_.now()));
      meta["deletionGracePeriodSeconds"] = 0;
      if (meta.contains("generation") && meta["generation"].is_number_integer()) {
        meta["generation"] = meta["generation"].get<int64_t>() + 1;
      }
    }
    if (options.dry_run) return object;
    store::Preconditions preconditions{current->mod_revision, current->uid};
    HandoffServer::about_to_block();
    auto written = finalized ? store_.remove(key(ns, name), preconditions)
                             : store_.update(key(ns, name), std::move(object), preconditions);
    if (written.ok()) return parse(*written->value);
    if (written.status().code() == StatusCode::kNotFound) return not_found(name);
    if (written.status().code() != StatusCode::kConflict) return written.status();
    store_.wait_for_pending_write(key(ns, name));
  }
  return conflict(name);
}

Result<size_t> Registry::remove_collection(const std::string& ns, const ListQuery& query,
                                           bool dry_run) {
  ListQuery all = query;
  all.limit = 0;
  all.continue_token.clear();
  auto page = list(ns, all);
  if (!page.ok()) return page.status();
  size_t removed = 0;
  for (const auto& item : page->items) {
    Json object = parse(*item);
    auto r =
        remove(string_at(object, "metadata", "namespace"), string_at(object, "metadata", "name"),
               DeleteOptions{std::nullopt, std::nullopt, dry_run});
    if (r.ok()) {
      ++removed;
    } else if (r.status().code() != StatusCode::kNotFound) {
      return r.status();
    }
  }
  return removed;
}

namespace {

class RegistryWatch final : public WatchStream {
 public:
  RegistryWatch(std::unique_ptr<store::Watcher> watcher, std::function<bool(const Json&)> filter,
                std::vector<WatchEvent> initial, bool initial_bookmark, uint64_t revision,
                const ResourceInfo& info)
      : watcher_(std::move(watcher)),
        filter_(std::move(filter)),
        initial_(std::move(initial)),
        initial_bookmark_(initial_bookmark),
        revision_(revision),
        info_(info) {}

  Result<std::vector<WatchEvent>> next(std::chrono::steady_clock::time_point deadline) override {
    if (!initial_done_) {
      initial_done_ = true;
      std::vector<WatchEvent> events = std::move(initial_);
      if (initial_bookmark_) events.push_back(bookmark(true));
      if (!events.empty()) return events;
    }
    auto batch = watcher_->next(deadline, 256);
    if (!batch.ok()) return batch.status();
    std::vector<WatchEvent> events;
    for (auto& e : *batch) {
      revision_.store(e.revision);
      if (!filter_) {
        events.push_back({type_name(e.type), e.value});
        continue;
      }
      bool now = e.type != store::EventType::kDeleted && filter_(parse(*e.value));
      bool before = e.prev_value && filter_(parse(*e.prev_value));
      if (e.type == store::EventType::kDeleted) now = false;
      if (now && before) {
        events.push_back({"MODIFIED", e.value});
      } else if (now) {
        events.push_back({"ADDED", e.value});
      } else if (before) {
        events.push_back({"DELETED", e.value});
      }
    }
    return events;
  }

  void cancel() override { watcher_->cancel(); }

  std::string resource_version() const override { return std::to_string(revision_.load()); }

  WatchEvent bookmark(bool initial_events_end) const {
    Json meta = {{"resourceVersion", resource_version()}};
    if (initial_events_end) meta["annotations"] = {{"k8s.io/initial-events-end", "true"}};
    return {
        "BOOKMARK",
        raw(Json{{"kind", info_.kind}, {"apiVersion", info_.api_version()}, {"metadata", meta}})};
  }

 private:
  static std::string type_name(store::EventType t) {
    switch (t) {
      case store::EventType::kAdded:
        return "ADDED";
      case store::EventType::kModified:
        return "MODIFIED";
      case store::EventType::kDeleted:
        return "DELETED";
    }
    return "MODIFIED";
  }

  std::unique_ptr<store::Watcher> watcher_;
  std::function<bool(const Json&)> filter_;
  std::vector<WatchEvent> initial_;
  bool initial_bookmark_;
  bool initial_done_ = false;
  std::atomic<uint64_t> revision_;
  const ResourceInfo& info_;
};

}  // namespace

Result<std::unique_ptr<WatchStream>> Registry::watch(const std::string& ns,
                                                     const WatchQuery& query) {
  std::function<bool(const Json&)> filter;
  if (!query.labels.empty() || !query.fields.empty()) {
    filter = [this, labels = query.labels, fields = query.fields](const Json& object) {
      return matches(object, labels, fields);
    };
  }
  const bool from_current = query.resource_version.empty() || query.resource_version == "0";
  std::optional<uint64_t> requested;
  if (!from_current) {
    requested = parse_resource_version(query.resource_version);
    if (!requested) {
      return Status(StatusCode::kBadRequest,
                    "invalid resourceVersion \"" + query.resource_version + "\"");
    }
    if (Status s = check_reached(store_, *requested); !s.ok()) return s;
  }
  std::vector<WatchEvent> initial;
  uint64_t start = requested.value_or(0);
  if (from_current || query.send_initial_events) {
    ListQuery list_query{query.labels, query.fields, 0, "", std::nullopt};
    auto page = list(ns, list_query);
    if (!page.ok()) return page.status();
    start = *parse_resource_version(page->resource_version);
    for (auto& item : page->items) initial.push_back({"ADDED", std::move(item)});
  }
  auto watcher = store_.watch(prefix(ns), start);
  if (!watcher.ok()) return watcher.status();
  return std::unique_ptr<WatchStream>(std::make_unique<RegistryWatch>(
      std::move(watcher).value(), std::move(filter), std::move(initial), query.send_initial_events,
      start, info()));
}

}  // namespace solti::api
