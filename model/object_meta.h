// ObjectMeta: the Kubernetes metadata every stored object carries.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model/fields.h"
#include "model/timestamp.h"

namespace solti {

using Json = nlohmann::ordered_json;

struct OwnerReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  std::optional<bool> controller;
  std::optional<bool> block_owner_deletion;
  bool operator==(const OwnerReference&) const = default;
};

SOLTI_FIELDS(OwnerReference) {
  v("apiVersion", s.api_version, "API version of the referent.");
  v("kind", s.kind, "Kind of the referent.");
  v("name", s.name, "Name of the referent.");
  v("uid", s.uid, "UID of the referent.");
  v("controller", s.controller, "If true, this reference points to the managing controller.");
  v("blockOwnerDeletion", s.block_owner_deletion,
    "If true, the owner cannot be deleted before this object is removed.");
}

struct ManagedFieldsEntry {
  std::string manager;
  std::string operation;  // "Apply" | "Update"
  std::string api_version;
  std::optional<Timestamp> time;
  std::string fields_type;  // "FieldsV1"
  Json fields_v1;           // null when absent; the set of owned fields
  std::string subresource;
  bool operator==(const ManagedFieldsEntry&) const = default;
};

SOLTI_FIELDS(ManagedFieldsEntry) {
  v("manager", s.manager, "The workflow (field manager) that manages these fields.");
  v("operation", s.operation, "Apply or Update: the kind of request that set the fields.");
  v("apiVersion", s.api_version, "Version of the resource the fields were set through.");
  v("time", s.time, "When these fields were last changed by this manager.");
  v("fieldsType", s.fields_type, "Format of fieldsV1; always FieldsV1.");
  v("fieldsV1", s.fields_v1, "The set of fields owned by this manager.");
  v("subresource", s.subresource, "Subresource the fields were set through, e.g. status.");
}

struct ObjectMeta {
  std::string name;
  std::string generate_name;
  std::string namespace_;
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
  std::optional<Timestamp> creation_timestamp;
  std::optional<Timestamp> deletion_timestamp;
  std::optional<int64_t> deletion_grace_period_seconds;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<OwnerReference> owner_references;
  std::vector<std::string> finalizers;
  std::vector<ManagedFieldsEntry> managed_fields;
  bool operator==(const ObjectMeta&) const = default;
};

SOLTI_FIELDS(ObjectMeta) {
  v("name", s.name,
    "Name, unique within the namespace; a DNS-1123 subdomain of at most 253 characters.");
  v("generateName", s.generate_name, "Prefix for a server-generated name when name is empty.");
  v("namespace", s.namespace_, "Namespace of the object; default when omitted.");
  v("uid", s.uid, "Unique id of this incarnation of the object; set by the server.");
  v("resourceVersion", s.resource_version,
    "Opaque version of the object, for optimistic concurrency and watch; set by the server.");
  v("generation", s.generation, "Sequence number of the desired state (spec); set by the server.");
  v("creationTimestamp", s.creation_timestamp, "When the object was created; set by the server.");
  v("deletionTimestamp", s.deletion_timestamp,
    "When deletion was requested; the object goes once its finalizers are removed.");
  v("deletionGracePeriodSeconds", s.deletion_grace_period_seconds,
    "Seconds allowed for graceful termination before the object is removed.");
  v("labels", s.labels, "Key/value labels for selection and organisation.");
  v("annotations", s.annotations, "Unstructured key/value metadata (at most 256 KiB in total).");
  v("ownerReferences", s.owner_references, "Objects this object depends on.");
  v("finalizers", s.finalizers, "Keys that must be removed before the object is deleted.");
  v("managedFields", s.managed_fields,
    "Which field manager owns which fields (server-side apply).");
}

}  // namespace solti
