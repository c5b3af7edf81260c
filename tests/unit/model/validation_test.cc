#include "model/validation.h"

#include <gtest/gtest.h>

#include <functional>

#include "model/names.h"

namespace solti {
namespace {

Task valid_task() {
  Task t;
  t.metadata.name = "nightly-backup";
  t.metadata.namespace_ = "default";
  t.spec.timeout = *Duration::parse("10m");
  t.spec.subprocess.emplace().command = "/bin/true";
  return t;
}

std::vector<std::string> errors_of(const Task& t, Origin origin = Origin::kApi) {
  std::vector<std::string> out;
  for (const auto& e : validate_task(t, origin)) out.push_back(e.to_string());
  return out;
}

// Applies `change` to a valid Task and returns the problems found.
std::vector<std::string> errors_after(const std::function<void(Task&)>& change,
                                      Origin origin = Origin::kApi) {
  Task t = valid_task();
  change(t);
  return errors_of(t, origin);
}

using Errors = std::vector<std::string>;

TEST(ValidationTest, AMinimalTaskIsValid) { EXPECT_EQ(errors_of(valid_task()), Errors{}); }

TEST(ValidationTest, CollectsAllErrorsAtOnce) {
  Errors got = errors_after([](Task& t) {
    t.metadata.name = "Bad_Name";
    t.spec.timeout.reset();
    t.spec.max_retries = 0;
    t.spec.backoff.emplace().factor = 0.5;
  });
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1], "spec.timeout: required");
  EXPECT_EQ(got[2], "spec.maxRetries: must be >= 1, got 0 (omit the field for unlimited retries)");
  EXPECT_EQ(got[3], "spec.backoff.factor: must be >= 1, got 0.5");
}

TEST(ValidationTest, TypeMeta) {
  EXPECT_EQ(errors_after([](Task& t) { t.api_version = "v1"; }),
            Errors{R"(apiVersion: unsupported value "v1" (supported: "solti.io/v1"))"});
  EXPECT_EQ(errors_after([](Task& t) { t.kind.clear(); }), Errors{"kind: required"});
}

TEST(ValidationTest, NamesAreDns1123Subdomains) {
  EXPECT_EQ(errors_after([](Task& t) { t.metadata.name = "a.b-c.d9"; }), Errors{});
  EXPECT_EQ(errors_after([](Task& t) { t.metadata.name.clear(); }),
            Errors{"metadata.name: required"});
  EXPECT_EQ(errors_after([](Task& t) {
              t.metadata.name.clear();
              t.metadata.generate_name = "job-";
            }),
            Errors{});
  for (const char* bad : {"UPPER", "under_score", "-lead", "trail-", "a..b", "a/b", "..", "a b"}) {
    Errors got = errors_after([&](Task& t) {
      t.metadata.name = bad;
      t.spec.slot = "s";
    });
    ASSERT_EQ(got.size(), 1u) << bad;
    EXPECT_EQ(got[0].rfind("metadata.name: invalid value \"" + std::string(bad) +
                               "\": a lowercase RFC 1123 subdomain",
                           0),
              0u)
        << got[0];
  }
  Errors too_long = errors_after([](Task& t) {
    t.metadata.name = std::string(254, 'a');
    t.spec.slot = "s";
  });
  ASSERT_EQ(too_long.size(), 1u);
  EXPECT_NE(too_long[0].find("must be no more than 253 characters"), std::string::npos);
  EXPECT_EQ(errors_after([](Task& t) { t.metadata.namespace_ = "Prod"; }).size(), 1u);
}

TEST(ValidationTest, LabelsAndAnnotations) {
  EXPECT_EQ(
      errors_after([](Task& t) {
        t.metadata.labels = {{"example.com/tier", "gold"}, {"app", ""}, {"a.b_c-d", "X.y_z-1"}};
      }),
      Errors{});
  EXPECT_EQ(errors_after([](Task& t) {
              t.metadata.labels = {{"app", std::string(64, 'v')}};
            }),
            Errors{"metadata.labels[app]: invalid value \"" + std::string(64, 'v') +
                   "\": must be no more than 63 characters"});
  EXPECT_EQ(errors_after([](Task& t) { t.metadata.labels = {{"Bad.Prefix/x", "v"}}; }).size(), 1u);
  EXPECT_EQ(errors_after([](Task& t) {
              t.metadata.labels = {{"/x", "v"}};
            }),
            Errors{R"(metadata.labels: invalid value "/x": prefix part must be non-empty)"});
  EXPECT_EQ(errors_after([](Task& t) {
              t.metadata.annotations = {{"big", std::string(256 * 1024, 'x')}};
            }),
            Errors{"metadata.annotations: must have at most 262144 bytes, got 262147"});
  EXPECT_EQ(errors_after([](Task& t) {
              t.metadata.annotations = {{"ok", std::string(200 * 1024, 'x')}};
            }),
            Errors{});
}

TEST(ValidationTest, FinalizersAndOwnerReferences) {
  EXPECT_EQ(errors_after([](Task& t) {
              t.metadata.finalizers = {"solti.io/runner", "solti.io/runner"};
            }),
            Errors{R"(metadata.finalizers[1]: duplicate value "solti.io/runner")"});
  EXPECT_EQ(errors_after([](Task& t) { t.metadata.owner_references = {OwnerReference{}}; }),
            (Errors{"metadata.ownerReferences[0].apiVersion: required",
                    "metadata.ownerReferences[0].kind: required",
                    "metadata.ownerReferences[0].name: required",
                    "metadata.ownerReferences[0].uid: required"}));
}

TEST(ValidationTest, SlotCharsetLengthAndDefault) {
  EXPECT_EQ(errors_after([](Task& t) { t.spec.slot = "Db.Migr_ations-1"; }), Errors{});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.slot = std::string(64, 's'); }), Errors{});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.slot = std::string(65, 's'); }),
            Errors{"spec.slot: invalid value \"" + std::string(65, 's') +
                   "\": must be no more than 64 characters"});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.slot = ".."; }),
            Errors{R"(spec.slot: invalid value "..": must not be '.' or '..')"});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.slot = "..x"; }), Errors{});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.slot = ""; }),
            Errors{R"(spec.slot: invalid value "": must not be empty)"});
  EXPECT_EQ(
      errors_after([](Task& t) { t.spec.slot = "a/b"; }),
      Errors{
          R"(spec.slot: invalid value "a/b": may contain only letters, digits, '.', '_' and '-' (found byte 47 at position 1))"});
  // The slot defaults to the name, which may be longer than a slot can be.
  EXPECT_EQ(errors_after([](Task& t) { t.metadata.name = std::string(65, 'n'); }),
            Errors{"spec.slot: required when metadata.name is longer than 64 characters (the slot "
                   "defaults to the name)"});
}

TEST(ValidationTest, TimeoutRequiredAndPositive) {
  EXPECT_EQ(errors_after([](Task& t) { t.spec.timeout.reset(); }),
            Errors{"spec.timeout: required"});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.timeout = *Duration::parse("0s"); }),
            Errors{"spec.timeout: must be greater than 0, got 0s"});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.timeout = *Duration::parse("-1s"); }),
            Errors{"spec.timeout: must be greater than 0, got -1s"});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.timeout = *Duration::parse("1ns"); }), Errors{});
}

TEST(ValidationTest, RestartIntervalOnlyWithAlways) {
  EXPECT_EQ(errors_after([](Task& t) {
              t.spec.restart_policy = RestartPolicy::kAlways;
              t.spec.restart_interval = *Duration::parse("0s");
            }),
            Errors{});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.restart_interval = *Duration::parse("1h"); }),
            Errors{"spec.restartInterval: may only be set when restartPolicy is Always"});
  EXPECT_EQ(errors_after([](Task& t) {
              t.spec.restart_policy = RestartPolicy::kAlways;
              t.spec.restart_interval = *Duration::parse("-1s");
            }),
            Errors{"spec.restartInterval: must not be negative, got -1s"});
}

TEST(ValidationTest, MaxRetries) {
  EXPECT_EQ(errors_after([](Task& t) { t.spec.max_retries = 1; }), Errors{});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.max_retries = -2; }),
            Errors{"spec.maxRetries: must be >= 1, got -2 (omit the field for unlimited retries)"});
}

TEST(ValidationTest, BackoffRules) {
  auto with_backoff = [](const char* first, const char* max, std::optional<double> factor) {
    return errors_after([&](Task& t) {
      BackoffSpec& b = t.spec.backoff.emplace();
      if (first) b.first = *Duration::parse(first);
      if (max) b.max = *Duration::parse(max);
      b.factor = factor;
    });
  };
  EXPECT_EQ(with_backoff("100ms", "100ms", 1.0), Errors{});
  EXPECT_EQ(with_backoff("0s", nullptr, std::nullopt),
            Errors{"spec.backoff.first: must be greater than 0, got 0s"});
  EXPECT_EQ(with_backoff("5s", "1s", std::nullopt),
            Errors{"spec.backoff.max: must be >= first (5s), got 1s"});
  EXPECT_EQ(with_backoff(nullptr, "500ms", std::nullopt),
            Errors{"spec.backoff.max: must be >= first (1s, the default), got 500ms"});
  EXPECT_EQ(with_backoff("1m", nullptr, std::nullopt),
            Errors{"spec.backoff.first: must be <= max (30s, the default), got 1m"});
  EXPECT_EQ(with_backoff(nullptr, nullptr, 0.5),
            Errors{"spec.backoff.factor: must be >= 1, got 0.5"});
  EXPECT_EQ(with_backoff(nullptr, nullptr, std::numeric_limits<double>::infinity()),
            Errors{"spec.backoff.factor: must be a finite number"});
  EXPECT_EQ(with_backoff(nullptr, nullptr, std::nan("")),
            Errors{"spec.backoff.factor: must be a finite number"});
}

TEST(ValidationTest, ExactlyOneKind) {
  EXPECT_EQ(errors_after([](Task& t) { t.spec.subprocess.reset(); }),
            Errors{"spec: must specify exactly one of subprocess, wasm, container"});
  EXPECT_EQ(errors_after([](Task& t) {
              t.spec.wasm.emplace().module = "/m.wasm";
              t.spec.container.emplace().image = "busybox";
            }),
            Errors{"spec: may specify only one of subprocess, wasm, container (found subprocess, "
                   "wasm, container)"});
}

TEST(ValidationTest, EmbeddedIsRejectedAtTheApiOnly) {
  auto embedded = [](Task& t) {
    t.spec.subprocess.reset();
    t.spec.embedded.emplace().function = "ttl-sweep";
  };
  EXPECT_EQ(errors_after(embedded, Origin::kApi),
            Errors{"spec.embedded: embedded tasks run only inside soltid and cannot be submitted "
                   "through the API"});
  EXPECT_EQ(errors_after(embedded, Origin::kInProcess), Errors{});
  EXPECT_EQ(errors_after(
                [](Task& t) {
                  t.spec.subprocess.reset();
                  t.spec.embedded.emplace();
                },
                Origin::kInProcess),
            Errors{"spec.embedded.function: required"});
}

TEST(ValidationTest, SubprocessCommandOrScript) {
  EXPECT_EQ(errors_after([](Task& t) { t.spec.subprocess->command.reset(); }),
            Errors{"spec.subprocess: must specify exactly one of command, script"});
  EXPECT_EQ(errors_after([](Task& t) {
              t.spec.subprocess->script = Script{ScriptRuntime::kSh, "true"};
            }),
            Errors{"spec.subprocess: must specify exactly one of command, script"});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.subprocess->command = "  "; }),
            Errors{"spec.subprocess.command: must not be empty"});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.subprocess->command = std::string("a\0b", 3); }),
            Errors{"spec.subprocess.command: must not contain NUL bytes"});
}

TEST(ValidationTest, ScriptBody) {
  auto with_script = [](std::optional<ScriptRuntime> runtime, std::string body) {
    return errors_after([&](Task& t) {
      t.spec.subprocess->command.reset();
      t.spec.subprocess->script = Script{runtime, body};
    });
  };
  EXPECT_EQ(with_script(ScriptRuntime::kPython, "print('grüße')"), Errors{});
  EXPECT_EQ(with_script(std::nullopt, "x"), Errors{"spec.subprocess.script.runtime: required"});
  EXPECT_EQ(with_script(ScriptRuntime::kBash, ""), Errors{"spec.subprocess.script.body: required"});
  EXPECT_EQ(with_script(ScriptRuntime::kBash, std::string(2 * 1024 * 1024, '#')), Errors{});
  EXPECT_EQ(with_script(ScriptRuntime::kBash, std::string(2 * 1024 * 1024 + 1, '#')),
            Errors{"spec.subprocess.script.body: must be at most 2097152 bytes, got 2097153"});
  EXPECT_EQ(with_script(ScriptRuntime::kBash, "echo \xff\xfe"),
            Errors{"spec.subprocess.script.body: must be valid UTF-8 text"});
}

TEST(ValidationTest, SubprocessArgsEnvCwdResourcesAndIds) {
  EXPECT_EQ(errors_after([](Task& t) {
              auto& sp = *t.spec.subprocess;
              sp.args = {"--all", ""};
              sp.env = {{"PGHOST", "db"}, {"_x.y-z", ""}};
              sp.cwd = "/var/backups";
              sp.resources = ResourceLimits{*Quantity::parse("64Mi"), *Quantity::parse("500m"), 64,
                                            1024, *Quantity::parse("1Gi")};
              sp.run_as_user = 65534;
              sp.run_as_group = 0;
            }),
            Errors{});
  EXPECT_EQ(
      errors_after([](Task& t) {
        auto& sp = *t.spec.subprocess;
        sp.args = {std::string("a\0", 2)};
        sp.env = {{"", "x"}, {"1X", std::string("\0", 1)}};
        sp.cwd = "relative/dir";
        sp.resources = ResourceLimits{*Quantity::parse("0"), *Quantity::parse("-1"), 0, 0,
                                      *Quantity::parse("0")};
        sp.run_as_user = -1;
        sp.run_as_group = 4294967295;
      }),
      (Errors{"spec.subprocess.args[0]: must not contain NUL bytes",
              "spec.subprocess.env[0].name: required",
              "spec.subprocess.env[1].name: invalid value \"1X\": a valid environment variable "
              "name must "
              "consist of alphabetic characters, digits, '_', '-', or '.', and must not start with "
              "a digit",
              "spec.subprocess.env[1].value: must not contain NUL bytes",
              R"(spec.subprocess.cwd: must be an absolute path, got "relative/dir")",
              "spec.subprocess.resources.memory: must be greater than 0, got 0",
              "spec.subprocess.resources.cpu: must be greater than 0, got -1",
              "spec.subprocess.resources.pids: must be >= 1, got 0",
              "spec.subprocess.resources.openFiles: must be >= 1, got 0",
              "spec.subprocess.resources.fileSize: must be greater than 0, got 0",
              "spec.subprocess.runAsUser: must be between 0 and 4294967294, got -1",
              "spec.subprocess.runAsGroup: must be between 0 and 4294967294, got 4294967295"}));
  EXPECT_EQ(errors_after([](Task& t) { t.spec.subprocess->cwd = "/srv/.."; }),
            Errors{R"(spec.subprocess.cwd: must not contain '..' components, got "/srv/..")"});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.subprocess->cwd = "/srv/..x/.y"; }), Errors{});
}

TEST(ValidationTest, WasmAndContainer) {
  auto wasm = [](WasmSpec w) {
    return errors_after([&](Task& t) {
      t.spec.subprocess.reset();
      t.spec.wasm = w;
    });
  };
  EXPECT_EQ(wasm({"/opt/app.wasm", {"a"}, {{"K", "v"}}}), Errors{});
  EXPECT_EQ(wasm({"", {}, {}}), Errors{"spec.wasm.module: required"});
  EXPECT_EQ(wasm({"app.wasm", {}, {}}),
            Errors{R"(spec.wasm.module: must be an absolute path, got "app.wasm")"});
  auto container = [](ContainerSpec c) {
    return errors_after([&](Task& t) {
      t.spec.subprocess.reset();
      t.spec.container = c;
    });
  };
  EXPECT_EQ(container({"localhost/busybox:latest", {"/bin/sh"}, {"-c", "echo"}, {}, {}}), Errors{});
  EXPECT_EQ(container({" ", {}, {}, {}, {}}), Errors{"spec.container.image: required"});
  EXPECT_EQ(container({"busy box", {}, {}, {}, {}}),
            Errors{R"(spec.container.image: must not contain whitespace, got "busy box")"});
  EXPECT_EQ(container({"busybox",
                       {},
                       {},
                       {{"9", "x"}},
                       ResourceLimits{std::nullopt, std::nullopt, -1, std::nullopt, std::nullopt}})
                .size(),
            2u);
}

TEST(ValidationTest, RunnerSelectorOperatorsAndValues) {
  EXPECT_EQ(errors_after([](Task& t) {
              t.spec.runner_selector =
                  LabelSelector{{{"solti.io/runner", "subprocess"}},
                                {{"zone", SelectorOperator::kNotIn, {"x"}},
                                 {"gpu", SelectorOperator::kDoesNotExist, {}}}};
            }),
            Errors{});
  EXPECT_EQ(errors_after([](Task& t) {
              t.spec.runner_selector =
                  LabelSelector{{}, {{"zone", SelectorOperator::kIn, {"bad value"}}}};
            }).size(),
            1u);
}

TEST(ValidationTest, RerunTokenLengthAndGracePeriod) {
  EXPECT_EQ(errors_after([](Task& t) { t.spec.rerun_token = std::string(254, 'r'); }),
            Errors{"spec.rerunToken: must be at most 253 characters, got 254"});
  EXPECT_EQ(errors_after([](Task& t) { t.spec.termination_grace_period = *Duration::parse("0s"); }),
            Errors{});
  EXPECT_EQ(
      errors_after([](Task& t) { t.spec.termination_grace_period = *Duration::parse("-1s"); }),
      Errors{"spec.terminationGracePeriod: must not be negative, got -1s"});
}

TEST(ValidationTest, StatusAndConditions) {
  Condition good{"Succeeded", ConditionStatus::kTrue, 2, Timestamp{}, "AttemptSucceeded", "ok"};
  EXPECT_EQ(errors_after([&](Task& t) {
              t.status.phase = TaskPhase::kSucceeded;
              t.status.conditions = {good};
            }),
            Errors{});
  EXPECT_EQ(
      errors_after([&](Task& t) {
        t.status.attempt = -1;
        t.status.message = std::string(32 * 1024 + 1, 'm');
        t.status.exit_code = int64_t{1} << 40;
        Condition bad = good;
        bad.reason = "not camel";
        bad.status.reset();
        t.status.conditions = {good, good, bad, Condition{}};
      }),
      (Errors{
          "status.attempt: must not be negative", "status.exitCode: must fit in a 32-bit integer",
          "status.message: must be at most 32768 bytes, got 32769",
          R"(status.conditions[1].type: duplicate value "Succeeded")",
          "status.conditions[2].status: required",
          R"(status.conditions[2].reason: invalid value "not camel": must be CamelCase (letters, digits, '_', ',' and ':'), at most 1024 bytes)",
          R"(status.conditions[2].type: duplicate value "Succeeded")",
          "status.conditions[3].type: required", "status.conditions[3].status: required",
          "status.conditions[3].lastTransitionTime: required",
          "status.conditions[3].reason: required"}));
}

TEST(ValidationTest, TaskRuns) {
  TaskRun run;
  run.metadata.name = task_run_name("t", 1, 1);
  run.spec = {"t", 1, 1};
  EXPECT_TRUE(validate_task_run(run).empty());
  run.spec = {"", 0, 0};
  std::vector<std::string> got;
  for (const auto& e : validate_task_run(run)) got.push_back(e.to_string());
  EXPECT_EQ(got, (Errors{"spec.taskName: required", "spec.generation: must be >= 1, got 0",
                         "spec.attempt: must be >= 1, got 0"}));
}

TEST(ValidationTest, ErrorsCarryKubernetesReasons) {
  auto errors = validate_task(
      [] {
        Task t = valid_task();
        t.spec.timeout.reset();
        t.spec.wasm.emplace().module = "/m";
        return t;
      }(),
      Origin::kApi);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].reason(), "FieldValueRequired");
  EXPECT_EQ(errors[1].reason(), "FieldValueForbidden");
}

TEST(NamesTest, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("grüße ✓ \xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\x80"));
}

}  // namespace
}  // namespace solti
