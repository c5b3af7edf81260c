#include "apiserver/managed_fields.h"

#include <functional>
#include <map>

namespace solti::api {
namespace {

constexpr std::string_view kFieldPrefix = "f:";

bool tracked(const FieldPathSegments& path, bool status_subresource) {
  if (path.empty()) return false;
  const std::string& top = path[0];
  if (top == "apiVersion" || top == "kind") return false;
  if (top == "metadata") {
    // /status writes ignore metadata, so they cannot own any of it.
    if (path.size() < 2 || status_subresource) return false;
    const std::string& field = path[1];
    return field == "labels" || field == "annotations" || field == "finalizers" ||
           field == "ownerReferences";
  }
  return (top == "status") == status_subresource;
}

void collect(const Json& value, FieldPathSegments& path, bool status_subresource, FieldSet& out) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [key, child] : value.items()) {
      path.push_back(key);
      collect(child, path, status_subresource, out);
      path.pop_back();
    }
    return;
  }
  if (tracked(path, status_subresource) &&
      !(path.size() == 2 && path[0] == "metadata" && value.is_object())) {
    out.insert(path);
  }
}

const Json* at(const Json& root, const FieldPathSegments& path) {
  const Json* node = &root;
  for (const auto& segment : path) {
    if (!node->is_object()) return nullptr;
    auto it = node->find(segment);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

void set_at(Json& root, const FieldPathSegments& path, const Json& value) {
  Json* node = &root;
  for (const auto& segment : path) {
    if (!node->is_object()) *node = Json::object();
    node = &(*node)[segment];
  }
  *node = value;
}

void erase_at(Json& root, const FieldPathSegments& path) {
  Json* node = &root;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    if (!node->is_object() || !node->contains(path[i])) return;
    node = &(*node)[path[i]];
  }
  if (node->is_object()) node->erase(path.back());
}

std::string dotted(const FieldPathSegments& path) {
  std::string out;
  for (const auto& s : path) out += "." + s;
  return out;
}

struct Entry {
  std::string manager;
  std::string operation;
  std::string api_version;
  std::string time;
  std::string subresource;
  FieldSet fields;
};

std::vector<Entry> read_entries(const Json& object) {
  std::vector<Entry> entries;
  const Json* managed = at(object, {"metadata", "managedFields"});
  if (!managed || !managed->is_array()) return entries;
  for (const auto& e : *managed) {
    if (!e.is_object()) continue;
    entries.push_back({e.value("manager", ""), e.value("operation", ""), e.value("apiVersion", ""),
                       e.value("time", ""), e.value("subresource", ""),
                       decode_fields_v1(e.value("fieldsV1", Json::object()))});
  }
  return entries;
}

void write_entries(Json& object, const std::vector<Entry>& entries) {
  Json list = Json::array();
  for (const auto& e : entries) {
    if (e.fields.empty()) continue;
    Json entry = {{"manager", e.manager},        {"operation", e.operation},
                  {"apiVersion", e.api_version}, {"time", e.time},
                  {"fieldsType", "FieldsV1"},    {"fieldsV1", encode_fields_v1(e.fields)}};
    if (!e.subresource.empty()) entry["subresource"] = e.subresource;
    list.push_back(std::move(entry));
  }
  Json& meta = object["metadata"];
  if (!meta.is_object()) meta = Json::object();
  if (list.empty()) {
    meta.erase("managedFields");
  } else {
    meta["managedFields"] = std::move(list);
  }
}

// Sets the entry of (manager, operation, subresource) to `fields`, keeping
// its time when the set is unchanged.
void put_entry(std::vector<Entry>& entries, const ManagerContext& context,
               const std::string& operation, FieldSet fields) {
  const std::string subresource = context.status_subresource ? "status" : "";
  for (auto& e : entries) {
    if (e.manager == context.manager && e.operation == operation && e.subresource == subresource) {
      if (e.fields != fields) {
        e.fields = std::move(fields);
        e.time = format_rfc3339(std::chrono::floor<std::chrono::seconds>(context.now));
        e.api_version = context.api_version;
      }
      return;
    }
  }
  entries.push_back({context.manager, operation, context.api_version,
                     format_rfc3339(std::chrono::floor<std::chrono::seconds>(context.now)),
                     subresource, std::move(fields)});
}

bool owns(const Entry& e, const ManagerContext& context, const std::string& operation) {
  return e.manager == context.manager && e.operation == operation &&
         e.subresource == (context.status_subresource ? "status" : "");
}

}  // namespace

FieldSet field_set(const Json& object, bool status_subresource) {
  FieldSet out;
  FieldPathSegments path;
  collect(object, path, status_subresource, out);
  return out;
}

Json encode_fields_v1(const FieldSet& fields) {
  Json root = Json::object();
  for (const auto& path : fields) {
    Json* node = &root;
    for (const auto& segment : path) node = &(*node)[std::string(kFieldPrefix) + segment];
    if (node->is_null()) *node = Json::object();
  }
  return root;
}

FieldSet decode_fields_v1(const Json& fields_v1) {
  FieldSet out;
  FieldPathSegments path;
  std::function<void(const Json&)> walk = [&](const Json& node) {
    bool has_children = false;
    if (node.is_object()) {
      for (const auto& [key, child] : node.items()) {
        if (key.rfind(kFieldPrefix, 0) != 0) continue;
        has_children = true;
        path.push_back(key.substr(kFieldPrefix.size()));
        walk(child);
        path.pop_back();
      }
    }
    if (!has_children && !path.empty()) out.insert(path);
  };
  walk(fields_v1);
  return out;
}

Result<Json> apply_configuration(const Json& live, const Json& applied,
                                 const ManagerContext& context, bool force) {
  Json result = live.is_object() ? live : Json::object();
  std::vector<Entry> entries = read_entries(result);
  const FieldSet wanted = field_set(applied, context.status_subresource);

  // Conflicts: another manager owns a wanted field whose value would change.
  std::map<std::string, std::vector<FieldPathSegments>> conflicts;
  size_t conflict_count = 0;
  for (auto& e : entries) {
    if (owns(e, context, "Apply")) continue;
    for (const auto& path : wanted) {
      if (!e.fields.count(path)) continue;
      const Json* current = at(result, path);
      const Json* desired = at(applied, path);
      if (current && desired && *current == *desired) continue;  // co-owning the same value is fine
      conflicts[e.manager].push_back(path);
      ++conflict_count;
    }
  }
  if (conflict_count > 0 && !force) {
    FieldErrors causes;
    std::string message = "Apply failed with " + std::to_string(conflict_count) +
                          (conflict_count == 1 ? " conflict: " : " conflicts: ");
    bool first = true;
    for (const auto& [manager, paths] : conflicts) {
      std::string with = (paths.size() == 1 ? "conflict with \"" : "conflicts with \"") + manager +
                         "\" using " + context.api_version;
      if (!first) message += "\n";
      first = false;
      if (conflict_count == 1) {
        message += with + ": " + dotted(paths[0]);
      } else {
        message += with + ":";
        for (const auto& p : paths) message += "\n- " + dotted(p);
      }
      for (const auto& p : paths) {
        causes.push_back({FieldErrorType::kFieldManagerConflict, dotted(p),
                          "conflict with \"" + manager + "\" using " + context.api_version});
      }
    }
    return Status(StatusCode::kConflict, message, std::move(causes));
  }

  // Forced: the other managers lose the contested fields (and only those:
  // fields applied with the value they already have stay shared).
  for (auto& e : entries) {
    auto contested = conflicts.find(e.manager);
    if (owns(e, context, "Apply") || contested == conflicts.end()) continue;
    for (const auto& path : contested->second) e.fields.erase(path);
  }

  // Fields this manager applied before and drops now go, unless still owned.
  FieldSet previously;
  for (const auto& e : entries) {
    if (owns(e, context, "Apply")) previously = e.fields;
  }
  for (const auto& path : previously) {
    if (wanted.count(path)) continue;
    bool owned_elsewhere = false;
    for (const auto& e : entries) {
      if (!owns(e, context, "Apply") && e.fields.count(path)) owned_elsewhere = true;
    }
    if (!owned_elsewhere) erase_at(result, path);
  }

  for (const auto& path : wanted) set_at(result, path, *at(applied, path));
  for (const char* field : {"apiVersion", "kind"}) {
    if (applied.contains(field)) result[field] = applied[field];
  }
  for (const char* field : {"name", "namespace"}) {
    const Json* value = at(applied, {"metadata", field});
    if (value) set_at(result, {"metadata", field}, *value);
  }
  put_entry(entries, context, "Apply", wanted);
  write_entries(result, entries);
  return result;
}

void record_update(const Json& old, Json& updated, const ManagerContext& context) {
  std::vector<Entry> entries;
  if (!old.is_object()) {
    // A create: every field is new and its manager owns them all, so there
    // is nothing to diff.
    put_entry(entries, context, "Update", field_set(updated, context.status_subresource));
    return write_entries(updated, entries);
  }
  entries = read_entries(old);
  const FieldSet before = field_set(old, context.status_subresource);
  const FieldSet after = field_set(updated, context.status_subresource);
  FieldSet changed;
  for (const auto& path : after) {
    const Json* previous = at(old, path);
    if (!previous || *previous != *at(updated, path)) changed.insert(path);
  }
  for (const auto& path : before) {
    if (!after.count(path)) changed.insert(path);
  }
  for (auto& e : entries) {
    for (const auto& path : changed) e.fields.erase(path);
    // Fields that no longer exist are no longer owned by anyone.
    for (auto it = e.fields.begin(); it != e.fields.end();) {
      const bool in_scope = (it->at(0) == "status") == context.status_subresource;
      it = in_scope && !after.count(*it) ? e.fields.erase(it) : std::next(it);
    }
  }
  FieldSet mine;
  for (const auto& e : entries) {
    if (owns(e, context, "Update")) mine = e.fields;
  }
  for (const auto& path : changed) {
    if (after.count(path)) mine.insert(path);
  }
  put_entry(entries, context, "Update", std::move(mine));  // an empty entry is dropped
  write_entries(updated, entries);
}

}  // namespace solti::api
