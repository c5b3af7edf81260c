#include "model/manifest.h"

#include <algorithm>

namespace solti {
namespace {

// True when `field` is `prefix` or lies under it.
bool is_under(std::string_view field, std::string_view prefix) {
  if (field.substr(0, prefix.size()) != prefix) return false;
  return field.size() == prefix.size() || field[prefix.size()] == '.' ||
         field[prefix.size()] == '[';
}

}  // namespace

CheckedTask decode_and_validate_task(const Json& object, Origin origin) {
  CheckedTask checked;
  DecodeReport report;
  checked.task = decode_json<Task>(object, report);
  checked.unknown_fields = std::move(report.unknown_fields);

  FieldErrors type_meta =
      validate_type_meta(checked.task.api_version, checked.task.kind, kTaskKind);
  if (!type_meta.empty()) {
    checked.errors = std::move(type_meta);
    checked.unknown_fields.clear();
    return checked;
  }
  checked.errors = std::move(report.errors);
  size_t decode_errors = checked.errors.size();
  for (auto& e : validate_task(checked.task, origin)) {
    bool explained = false;
    for (size_t i = 0; i < decode_errors && !explained; ++i) {
      explained = is_under(e.field, checked.errors[i].field);
    }
    if (!explained) checked.errors.push_back(std::move(e));
  }
  return checked;
}

std::string ManifestProblem::to_string(std::string_view file) const {
  std::string out(file);
  if (position.known()) {
    out += ':';
    out += position.to_string();
  }
  out += ": ";
  out += error.to_string();
  return out;
}

Result<std::vector<TaskManifest>> decode_task_manifests(std::string_view text, Origin origin) {
  auto documents = parse_yaml(text);
  if (!documents.ok()) return documents.status();

  std::vector<TaskManifest> manifests;
  for (auto& doc : *documents) {
    TaskManifest manifest;
    manifest.start = doc.start;
    CheckedTask checked = decode_and_validate_task(doc.value, origin);
    manifest.task = std::move(checked.task);
    for (const auto& path : checked.unknown_fields) {
      checked.errors.push_back({FieldErrorType::kUnknownField, path, "unknown field"});
    }
    for (auto& e : checked.errors) {
      SourcePosition at = doc.position_of(e.field);
      manifest.problems.push_back({at, std::move(e)});
    }
    std::stable_sort(manifest.problems.begin(), manifest.problems.end(),
                     [](const ManifestProblem& a, const ManifestProblem& b) {
                       return std::pair(a.position.line, a.position.column) <
                              std::pair(b.position.line, b.position.column);
                     });
    manifest.object = std::move(doc.value);
    manifests.push_back(std::move(manifest));
  }
  return manifests;
}

}  // namespace solti
