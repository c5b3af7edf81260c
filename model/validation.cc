#include "model/validation.h"

#include <cmath>
#include <limits>
#include <set>

#include "model/names.h"

namespace solti {
namespace {

class Errors {
 public:
  void add(FieldErrorType type, const FieldPath& path, std::string message) {
    list_.push_back({type, path.str(), std::move(message)});
  }
  void required(const FieldPath& path) { add(FieldErrorType::kRequired, path, "required"); }
  void invalid(const FieldPath& path, std::string message) {
    add(FieldErrorType::kInvalid, path, std::move(message));
  }
  void append(FieldErrors more) {
    for (auto& e : more) list_.push_back(std::move(e));
  }
  // Reports each problem of a name check as "invalid value "x": problem".
  void check(const FieldPath& path, std::string_view value,
             const std::vector<std::string>& problems) {
    for (const auto& p : problems)
      invalid(path, "invalid value \"" + std::string(value) + "\": " + p);
  }
  FieldErrors take() { return std::move(list_); }

 private:
  FieldErrors list_;
};

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string format_number(double d) {
  std::string s = std::to_string(d);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

void check_no_nul(Errors& errors, const FieldPath& path, std::string_view value) {
  if (has_nul(value)) errors.invalid(path, "must not contain NUL bytes");
}

void check_strings(Errors& errors, const FieldPath& path, const std::vector<std::string>& values) {
  for (size_t i = 0; i < values.size(); ++i) check_no_nul(errors, path.index(i), values[i]);
}

void check_env(Errors& errors, const FieldPath& path, const std::vector<EnvVar>& env) {
  for (size_t i = 0; i < env.size(); ++i) {
    FieldPath p = path.index(i);
    if (env[i].name.empty()) {
      errors.required(p.child("name"));
    } else {
      errors.check(p.child("name"), env[i].name, check_env_var_name(env[i].name));
    }
    check_no_nul(errors, p.child("value"), env[i].value);
  }
}

// Absolute, no NUL, no ".." component: a path a Task may not use to escape.
void check_absolute_path(Errors& errors, const FieldPath& path, std::string_view value) {
  if (value.empty()) return errors.required(path);
  if (has_nul(value)) return errors.invalid(path, "must not contain NUL bytes");
  if (value.front() != '/')
    return errors.invalid(path, "must be an absolute path, got " + in_quotes(value));
  size_t start = 0;
  while (start <= value.size()) {
    size_t slash = value.find('/', start);
    std::string_view part = value.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part == "..")
      return errors.invalid(path, "must not contain '..' components, got " + in_quotes(value));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
}

void check_resources(Errors& errors, const FieldPath& path, const ResourceLimits& r) {
  if (r.memory && !r.memory->is_positive())
    errors.invalid(path.child("memory"), "must be greater than 0, got " + r.memory->text());
  if (r.cpu && !r.cpu->is_positive())
    errors.invalid(path.child("cpu"), "must be greater than 0, got " + r.cpu->text());
  if (r.pids && *r.pids < 1)
    errors.invalid(path.child("pids"), "must be >= 1, got " + std::to_string(*r.pids));
  if (r.open_files && *r.open_files < 1)
    errors.invalid(path.child("openFiles"), "must be >= 1, got " + std::to_string(*r.open_files));
  if (r.file_size && !r.file_size->is_positive())
    errors.invalid(path.child("fileSize"), "must be greater than 0, got " + r.file_size->text());
}

void check_id(Errors& errors, const FieldPath& path, const std::optional<int64_t>& id) {
  constexpr int64_t kMaxId = 4294967294;  // (uid_t)-1 means "unchanged" to the kernel
  if (id && (*id < 0 || *id > kMaxId))
    errors.invalid(
        path, "must be between 0 and " + std::to_string(kMaxId) + ", got " + std::to_string(*id));
}

void check_duration_positive(Errors& errors, const FieldPath& path, const Duration& d) {
  if (d.value().count() <= 0) errors.invalid(path, "must be greater than 0, got " + d.text());
}

void check_duration_non_negative(Errors& errors, const FieldPath& path, const Duration& d) {
  if (d.value().count() < 0) errors.invalid(path, "must not be negative, got " + d.text());
}

void check_subprocess(Errors& errors, const FieldPath& path, const SubprocessSpec& sp) {
  if (sp.command.has_value() == sp.script.has_value()) {
    errors.add(sp.command ? FieldErrorType::kForbidden : FieldErrorType::kRequired, path,
               "must specify exactly one of command, script");
  }
  if (sp.command) {
    FieldPath p = path.child("command");
    if (sp.command->find_first_not_of(" \t\n") == std::string::npos) {
      errors.invalid(p, "must not be empty");
    } else {
      check_no_nul(errors, p, *sp.command);
    }
  }
  if (sp.script) {
    FieldPath p = path.child("script");
    if (!sp.script->runtime) errors.required(p.child("runtime"));
    const std::string& body = sp.script->body;
    if (body.empty()) {
      errors.required(p.child("body"));
    } else if (body.size() > kMaxScriptBodyBytes) {
      errors.add(FieldErrorType::kTooLong, p.child("body"),
                 "must be at most " + std::to_string(kMaxScriptBodyBytes) + " bytes, got " +
                     std::to_string(body.size()));
    } else if (!is_valid_utf8(body)) {
      errors.invalid(p.child("body"), "must be valid UTF-8 text");
    }
  }
  check_strings(errors, path.child("args"), sp.args);
  check_env(errors, path.child("env"), sp.env);
  if (sp.cwd) check_absolute_path(errors, path.child("cwd"), *sp.cwd);
  if (sp.resources) check_resources(errors, path.child("resources"), *sp.resources);
  check_id(errors, path.child("runAsUser"), sp.run_as_user);
  check_id(errors, path.child("runAsGroup"), sp.run_as_group);
}

void check_wasm(Errors& errors, const FieldPath& path, const WasmSpec& w) {
  check_absolute_path(errors, path.child("module"), w.module);
  check_strings(errors, path.child("args"), w.args);
  check_env(errors, path.child("env"), w.env);
}

void check_container(Errors& errors, const FieldPath& path, const ContainerSpec& c) {
  FieldPath image = path.child("image");
  if (c.image.find_first_not_of(" \t\n") == std::string::npos) {
    errors.required(image);
  } else if (c.image.find_first_of(" \t\n\r") != std::string::npos || has_nul(c.image)) {
    errors.invalid(image, "must not contain whitespace, got " + in_quotes(c.image));
  }
  check_strings(errors, path.child("command"), c.command);
  check_strings(errors, path.child("args"), c.args);
  check_env(errors, path.child("env"), c.env);
  if (c.resources) check_resources(errors, path.child("resources"), *c.resources);
}

void check_backoff(Errors& errors, const FieldPath& path, const BackoffSpec& b) {
  if (b.first) check_duration_positive(errors, path.child("first"), *b.first);
  if (b.max) {
    check_duration_positive(errors, path.child("max"), *b.max);
    const Duration first = b.first ? *b.first : Duration::from(kDefaultBackoffFirst);
    if (b.max->value().count() > 0 && first.value().count() > 0 && b.max->value() < first.value()) {
      errors.invalid(path.child("max"), "must be >= first (" + first.text() +
                                            (b.first ? "" : ", the default") + "), got " +
                                            b.max->text());
    }
  } else if (b.first && b.first->value() > std::chrono::nanoseconds(kDefaultBackoffMax)) {
    errors.invalid(path.child("first"), "must be <= max (" + format_duration(kDefaultBackoffMax) +
                                            ", the default), got " + b.first->text());
  }
  if (b.factor) {
    if (!std::isfinite(*b.factor)) {
      errors.invalid(path.child("factor"), "must be a finite number");
    } else if (*b.factor < 1.0) {
      errors.invalid(path.child("factor"), "must be >= 1, got " + format_number(*b.factor));
    }
  }
}

}  // namespace

FieldErrors validate_object_meta(const ObjectMeta& meta, const FieldPath& path) {
  Errors errors;
  if (meta.name.empty()) {
    if (meta.generate_name.empty()) errors.required(path.child("name"));
  } else {
    errors.check(path.child("name"), meta.name, check_dns1123_subdomain(meta.name));
  }
  if (!meta.generate_name.empty()) {
    // Five random characters are appended to the prefix.
    auto problems = check_dns1123_subdomain(meta.generate_name + "abcde");
    errors.check(path.child("generateName"), meta.generate_name, problems);
  }
  if (!meta.namespace_.empty())
    errors.check(path.child("namespace"), meta.namespace_, check_dns1123_label(meta.namespace_));

  FieldPath labels = path.child("labels");
  for (const auto& [key, value] : meta.labels) {
    errors.check(labels, key, check_qualified_name(key));
    errors.check(labels.key(key), value, check_label_value(value));
  }
  FieldPath annotations = path.child("annotations");
  size_t annotation_bytes = 0;
  for (const auto& [key, value] : meta.annotations) {
    errors.check(annotations, key, check_qualified_name(key));
    annotation_bytes += key.size() + value.size();
  }
  if (annotation_bytes > kMaxAnnotationsBytes) {
    errors.add(FieldErrorType::kTooLong, annotations,
               "must have at most " + std::to_string(kMaxAnnotationsBytes) + " bytes, got " +
                   std::to_string(annotation_bytes));
  }
  std::set<std::string_view> finalizers;
  for (size_t i = 0; i < meta.finalizers.size(); ++i) {
    const auto& f = meta.finalizers[i];
    FieldPath p = path.child("finalizers").index(i);
    errors.check(p, f, check_qualified_name(f));
    if (!finalizers.insert(f).second)
      errors.add(FieldErrorType::kDuplicate, p, "duplicate value " + in_quotes(f));
  }
  for (size_t i = 0; i < meta.owner_references.size(); ++i) {
    const auto& ref = meta.owner_references[i];
    FieldPath p = path.child("ownerReferences").index(i);
    if (ref.api_version.empty()) errors.required(p.child("apiVersion"));
    if (ref.kind.empty()) errors.required(p.child("kind"));
    if (ref.name.empty()) errors.required(p.child("name"));
    if (ref.uid.empty()) errors.required(p.child("uid"));
  }
  return errors.take();
}

FieldErrors validate_task_spec(const TaskSpec& spec, const ObjectMeta& meta, Origin origin,
                               const FieldPath& path) {
  Errors errors;
  if (spec.slot) {
    errors.check(path.child("slot"), *spec.slot, check_slot(*spec.slot));
  } else if (meta.name.size() > kSlotMaxLength) {
    errors.add(FieldErrorType::kRequired, path.child("slot"),
               "required when metadata.name is longer than " + std::to_string(kSlotMaxLength) +
                   " characters (the slot defaults to the name)");
  } else if (!meta.name.empty()) {
    errors.check(path.child("slot"), meta.name, check_slot(meta.name));
  }

  if (!spec.timeout) {
    errors.required(path.child("timeout"));
  } else {
    check_duration_positive(errors, path.child("timeout"), *spec.timeout);
  }
  if (spec.restart_interval) {
    if (effective_restart_policy(spec) != RestartPolicy::kAlways) {
      errors.add(FieldErrorType::kForbidden, path.child("restartInterval"),
                 "may only be set when restartPolicy is Always");
    }
    check_duration_non_negative(errors, path.child("restartInterval"), *spec.restart_interval);
  }
  if (spec.max_retries && *spec.max_retries < 1) {
    errors.invalid(path.child("maxRetries"), "must be >= 1, got " +
                                                 std::to_string(*spec.max_retries) +
                                                 " (omit the field for unlimited retries)");
  }
  if (spec.backoff) check_backoff(errors, path.child("backoff"), *spec.backoff);
  if (spec.termination_grace_period)
    check_duration_non_negative(errors, path.child("terminationGracePeriod"),
                                *spec.termination_grace_period);
  if (spec.runner_selector)
    errors.append(validate_label_selector(*spec.runner_selector, path.child("runnerSelector")));
  if (spec.rerun_token && spec.rerun_token->size() > 253) {
    errors.add(FieldErrorType::kTooLong, path.child("rerunToken"),
               "must be at most 253 characters, got " + std::to_string(spec.rerun_token->size()));
  }

  std::vector<std::string_view> kinds;
  if (spec.subprocess) kinds.push_back("subprocess");
  if (spec.wasm) kinds.push_back("wasm");
  if (spec.container) kinds.push_back("container");
  if (spec.embedded) kinds.push_back("embedded");
  if (kinds.empty()) {
    errors.add(FieldErrorType::kRequired, path,
               "must specify exactly one of subprocess, wasm, container");
  } else if (kinds.size() > 1) {
    std::string found;
    for (auto k : kinds) found += (found.empty() ? "" : ", ") + std::string(k);
    errors.add(FieldErrorType::kForbidden, path,
               "may specify only one of subprocess, wasm, container (found " + found + ")");
  }
  if (spec.subprocess) check_subprocess(errors, path.child("subprocess"), *spec.subprocess);
  if (spec.wasm) check_wasm(errors, path.child("wasm"), *spec.wasm);
  if (spec.container) check_container(errors, path.child("container"), *spec.container);
  if (spec.embedded) {
    if (origin == Origin::kApi) {
      errors.add(FieldErrorType::kForbidden, path.child("embedded"),
                 "embedded tasks run only inside soltid and cannot be submitted through the API");
    } else if (spec.embedded->function.empty()) {
      errors.required(path.child("embedded").child("function"));
    }
  }
  return errors.take();
}

FieldErrors validate_condition(const Condition& condition, const FieldPath& path) {
  Errors errors;
  if (condition.type.empty()) {
    errors.required(path.child("type"));
  } else if (condition.type.size() > 316) {
    errors.add(FieldErrorType::kTooLong, path.child("type"), "must be at most 316 characters");
  }
  if (!condition.status) errors.required(path.child("status"));
  if (!condition.last_transition_time) errors.required(path.child("lastTransitionTime"));
  if (condition.observed_generation < 0)
    errors.invalid(path.child("observedGeneration"), "must not be negative");
  // ^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$, at most 1024 bytes
  const std::string& r = condition.reason;
  if (r.empty()) {
    errors.required(path.child("reason"));
  } else {
    bool ok = r.size() <= 1024 && std::isalpha(static_cast<unsigned char>(r.front())) &&
              (std::isalnum(static_cast<unsigned char>(r.back())) || r.back() == '_');
    for (char c : r)
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ',' || c == ':');
    if (!ok)
      errors.invalid(
          path.child("reason"),
          "invalid value " + in_quotes(r) +
              ": must be CamelCase (letters, digits, '_', ',' and ':'), at most 1024 bytes");
  }
  if (condition.message.size() > kMaxMessageBytes)
    errors.add(FieldErrorType::kTooLong, path.child("message"),
               "must be at most " + std::to_string(kMaxMessageBytes) + " bytes");
  return errors.take();
}

FieldErrors validate_task_status(const TaskStatus& status, const FieldPath& path) {
  Errors errors;
  if (status.attempt < 0) errors.invalid(path.child("attempt"), "must not be negative");
  if (status.observed_generation < 0)
    errors.invalid(path.child("observedGeneration"), "must not be negative");
  if (status.consecutive_failures < 0)
    errors.invalid(path.child("consecutiveFailures"), "must not be negative");
  if (status.exit_code && (*status.exit_code < std::numeric_limits<int32_t>::min() ||
                           *status.exit_code > std::numeric_limits<int32_t>::max()))
    errors.invalid(path.child("exitCode"), "must fit in a 32-bit integer");
  if (status.message.size() > kMaxMessageBytes)
    errors.add(FieldErrorType::kTooLong, path.child("message"),
               "must be at most " + std::to_string(kMaxMessageBytes) + " bytes, got " +
                   std::to_string(status.message.size()));
  std::set<std::string_view> types;
  for (size_t i = 0; i < status.conditions.size(); ++i) {
    FieldPath p = path.child("conditions").index(i);
    errors.append(validate_condition(status.conditions[i], p));
    if (!status.conditions[i].type.empty() && !types.insert(status.conditions[i].type).second)
      errors.add(FieldErrorType::kDuplicate, p.child("type"),
                 "duplicate value " + in_quotes(status.conditions[i].type));
  }
  return errors.take();
}

FieldErrors validate_type_meta(const std::string& api_version, const std::string& kind,
                               std::string_view expected_kind) {
  Errors errors;
  if (api_version.empty()) {
    errors.required(FieldPath("apiVersion"));
  } else if (api_version != kApiVersion) {
    errors.add(FieldErrorType::kNotSupported, FieldPath("apiVersion"),
               "unsupported value " + in_quotes(api_version) +
                   " (supported: " + in_quotes(kApiVersion) + ")");
  }
  if (kind.empty()) {
    errors.required(FieldPath("kind"));
  } else if (kind != expected_kind) {
    errors.add(
        FieldErrorType::kNotSupported, FieldPath("kind"),
        "unsupported value " + in_quotes(kind) + " (supported: " + in_quotes(expected_kind) + ")");
  }
  return errors.take();
}

FieldErrors validate_task(const Task& task, Origin origin) {
  Errors errors;
  errors.append(validate_type_meta(task.api_version, task.kind, kTaskKind));
  errors.append(validate_object_meta(task.metadata, FieldPath("metadata")));
  errors.append(validate_task_spec(task.spec, task.metadata, origin, FieldPath("spec")));
  errors.append(validate_task_status(task.status, FieldPath("status")));
  return errors.take();
}

FieldErrors validate_task_run(const TaskRun& run) {
  Errors errors;
  errors.append(validate_type_meta(run.api_version, run.kind, kTaskRunKind));
  errors.append(validate_object_meta(run.metadata, FieldPath("metadata")));
  FieldPath spec("spec");
  if (run.spec.task_name.empty()) {
    errors.required(spec.child("taskName"));
  } else {
    errors.check(spec.child("taskName"), run.spec.task_name,
                 check_dns1123_subdomain(run.spec.task_name));
  }
  if (run.spec.generation < 1)
    errors.invalid(spec.child("generation"),
                   "must be >= 1, got " + std::to_string(run.spec.generation));
  if (run.spec.attempt < 1)
    errors.invalid(spec.child("attempt"), "must be >= 1, got " + std::to_string(run.spec.attempt));
  if (run.status.message.size() > kMaxMessageBytes)
    errors.add(FieldErrorType::kTooLong, FieldPath("status").child("message"),
               "must be at most " + std::to_string(kMaxMessageBytes) + " bytes");
  return errors.take();
}

}  // namespace solti
