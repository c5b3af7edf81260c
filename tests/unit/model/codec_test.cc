#include <gtest/gtest.h>

#include "model/json_codec.h"
#include "model/manifest.h"
#include "model/names.h"
#include "model/task.h"
#include "model/task_run.h"

namespace solti {
namespace {

const char* kFullTask = R"({
  "apiVersion": "solti.io/v1",
  "kind": "Task",
  "metadata": {
    "name": "nightly-backup", "namespace": "default", "uid": "6f1c2a7e-0000-4000-8000-000000000001",
    "resourceVersion": "42", "generation": 3, "creationTimestamp": "2026-01-02T03:04:05Z",
    "labels": {"team": "data"}, "annotations": {"note": "x"},
    "ownerReferences": [{"apiVersion": "v1", "kind": "Thing", "name": "o", "uid": "u", "controller": true}],
    "finalizers": ["solti.io/runner"],
    "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "solti.io/v1",
                       "time": "2026-01-02T03:04:05Z", "fieldsType": "FieldsV1",
                       "fieldsV1": {"f:spec": {"f:timeout": {}}}}]
  },
  "spec": {
    "slot": "backup", "timeout": "10m", "restartPolicy": "OnFailure", "maxRetries": 3,
    "backoff": {"first": "1s", "max": "30s", "factor": 2.5, "jitter": "Decorrelated"},
    "admission": "Queue", "terminationGracePeriod": "5s", "suspend": false,
    "runnerSelector": {"matchLabels": {"solti.io/runner": "subprocess"},
                       "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]},
    "subprocess": {"command": "/usr/bin/pg_dump", "args": ["--all"],
                   "env": [{"name": "PGHOST", "value": "db"}], "cwd": "/var/backups",
                   "failOnNonZero": false, "resources": {"memory": "64Mi", "cpu": "500m", "pids": 64}}
  },
  "status": {
    "phase": "Running", "attempt": 2, "exitCode": 1, "message": "process exited with code 1",
    "observedGeneration": 3, "startTime": "2026-01-02T03:05:00.5Z",
    "conditions": [{"type": "Reconciling", "status": "True", "observedGeneration": 3,
                    "lastTransitionTime": "2026-01-02T03:05:00Z", "reason": "Running", "message": "attempt 2"}]
  }
})";

TEST(CodecTest, DecodesEveryFieldOfATask) {
  DecodeReport report;
  Task t = decode_json<Task>(Json::parse(kFullTask), report);
  ASSERT_TRUE(report.ok()) << join_field_errors(report.errors);
  EXPECT_TRUE(report.unknown_fields.empty());
  EXPECT_EQ(t.metadata.name, "nightly-backup");
  EXPECT_EQ(t.metadata.generation, 3);
  EXPECT_EQ(t.metadata.finalizers, std::vector<std::string>{"solti.io/runner"});
  EXPECT_EQ(t.metadata.owner_references.at(0).controller, true);
  EXPECT_EQ(t.metadata.managed_fields.at(0).fields_v1["f:spec"].size(), 1u);
  EXPECT_EQ(t.spec.timeout->value(), std::chrono::minutes(10));
  EXPECT_EQ(t.spec.restart_policy, RestartPolicy::kOnFailure);
  EXPECT_EQ(t.spec.backoff->jitter, JitterPolicy::kDecorrelated);
  EXPECT_EQ(t.spec.backoff->factor, 2.5);
  EXPECT_EQ(t.spec.admission, AdmissionPolicy::kQueue);
  EXPECT_EQ(t.spec.suspend, false);
  EXPECT_EQ(t.spec.runner_selector->match_expressions.at(0).op, SelectorOperator::kIn);
  EXPECT_EQ(t.spec.subprocess->fail_on_non_zero, false);
  EXPECT_EQ(t.spec.subprocess->resources->memory->value_ceil(), 64 * 1024 * 1024);
  EXPECT_EQ(t.spec.subprocess->resources->pids, 64);
  EXPECT_EQ(t.status.phase, TaskPhase::kRunning);
  EXPECT_EQ(t.status.exit_code, 1);
  EXPECT_EQ(t.status.conditions.at(0).status, ConditionStatus::kTrue);
  EXPECT_EQ(format_rfc3339(*t.status.start_time), "2026-01-02T03:05:00.5Z");
}

TEST(CodecTest, EncodeOfDecodeIsIdentity) {
  Json original = Json::parse(kFullTask);
  DecodeReport report;
  Task t = decode_json<Task>(original, report);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(encode_json(t), original);  // same fields, values and (canonical) order
  // And the decoded value survives a second trip unchanged.
  DecodeReport again;
  EXPECT_EQ(decode_json<Task>(encode_json(t), again), t);
}

TEST(CodecTest, EncodingOmitsEmptyButKeepsExplicitFalseAndZero) {
  Task t;
  t.metadata.name = "x";
  t.spec.timeout = Duration::from(std::chrono::seconds(1));
  t.spec.suspend = false;
  t.spec.max_retries = 0;  // optional: written even though zero
  t.spec.subprocess.emplace();
  t.spec.subprocess->command = "/bin/true";
  EXPECT_EQ(
      encode_json(t).dump(),
      R"({"apiVersion":"solti.io/v1","kind":"Task","metadata":{"name":"x"},)"
      R"("spec":{"timeout":"1s","maxRetries":0,"suspend":false,"subprocess":{"command":"/bin/true"}}})");
}

TEST(CodecTest, ReportsUnknownFieldsByPath) {
  DecodeReport report;
  decode_json<Task>(Json::parse(R"({"apiVersion":"solti.io/v1","kind":"Task","metadta":{},
      "spec":{"timeout":"1s","subprocess":{"comand":"x","env":[{"name":"A","vaule":"b"}]}}})"),
                    report);
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.unknown_fields, (std::vector<std::string>{"metadta", "spec.subprocess.comand",
                                                             "spec.subprocess.env[0].vaule"}));
}

TEST(CodecTest, ReportsEveryTypeErrorWithItsPath) {
  DecodeReport report;
  Task t = decode_json<Task>(Json::parse(R"({"metadata":{"name":7,"labels":{"a":1}},
      "spec":{"timeout":30,"maxRetries":1.5,"suspend":"no","backoff":{"jitter":"Some"},
              "subprocess":{"args":"x","env":[{"name":"A","value":2}]}},
      "status":{"attempt":9223372036854775808,"startTime":"yesterday"}})"),
                             report);
  std::vector<std::string> got;
  for (const auto& e : report.errors) got.push_back(e.to_string());
  std::vector<std::string> expected = {
      "metadata.name: must be a string, got integer 7",
      "metadata.labels[a]: must be a string, got integer 1",
      R"(spec.timeout: must be a duration string such as "30s", got integer 30)",
      "spec.maxRetries: must be an integer, got number 1.5",
      R"(spec.backoff.jitter: unsupported value "Some" (supported: "None", "Full", "Equal", "Decorrelated"))",
      R"(spec.suspend: must be a boolean, got string "no")",
      R"(spec.subprocess.args: must be a list, got string "x")",
      "spec.subprocess.env[0].value: must be a string, got integer 2",
      "status.attempt: must fit in a signed 64-bit integer, got 9223372036854775808",
      R"(status.startTime: invalid timestamp "yesterday": expected RFC 3339 such as 2026-01-02T15:04:05Z)",
  };
  EXPECT_EQ(got, expected);
  // Values that failed to decode are absent, not defaults in disguise.
  EXPECT_FALSE(t.spec.timeout);
  EXPECT_FALSE(t.spec.suspend);
  EXPECT_FALSE(t.spec.backoff->jitter);
}

TEST(CodecTest, NullMeansAbsent) {
  DecodeReport report;
  Task t = decode_json<Task>(
      Json::parse(R"({"spec":{"timeout":null,"slot":null,"subprocess":null}})"), report);
  EXPECT_TRUE(report.ok());
  EXPECT_FALSE(t.spec.timeout);
  EXPECT_FALSE(t.spec.slot);
  EXPECT_FALSE(t.spec.subprocess);
}

TEST(CodecTest, NonObjectsAreTypeErrors) {
  DecodeReport report;
  decode_json<Task>(Json::parse(R"(["not", "an", "object"])"), report);
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].message, "must be an object, got list");
}

TEST(CodecTest, TaskRunRoundTrips) {
  Json original = Json::parse(R"({"apiVersion":"solti.io/v1","kind":"TaskRun",
    "metadata":{"name":"t-1-2","namespace":"default","labels":{"solti.io/task":"t"},
                "ownerReferences":[{"apiVersion":"solti.io/v1","kind":"Task","name":"t","uid":"u","controller":true}]},
    "spec":{"taskName":"t","generation":1,"attempt":2},
    "status":{"phase":"Exhausted","startTime":"2026-01-02T03:04:05Z","completionTime":"2026-01-02T03:04:06Z",
              "exitCode":0,"reason":"ProcessExited","message":"ok","runner":"subprocess"}})");
  DecodeReport report;
  TaskRun run = decode_json<TaskRun>(original, report);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(run.spec.attempt, 2);
  EXPECT_EQ(run.status.exit_code, 0);
  EXPECT_EQ(encode_json(run), original);
  EXPECT_EQ(task_run_name("t", 1, 2), "t-1-2");
}

TEST(CodecTest, LongTaskNamesGiveValidBoundedRunNamesAndLabels) {
  const std::string long_a = std::string(240, 'a') + ".b-" + std::string(10, 'c');
  const std::string long_b = std::string(240, 'a') + ".b-" + std::string(10, 'd');
  const std::string run_a = task_run_name(long_a, 12, 345);
  EXPECT_LE(run_a.size(), 253u);
  EXPECT_TRUE(run_a.ends_with("-12-345"));
  EXPECT_NE(run_a, task_run_name(long_b, 12, 345));
  EXPECT_TRUE(check_dns1123_subdomain(run_a).empty()) << run_a;

  const std::string label = task_label_value(long_a);
  EXPECT_LE(label.size(), 63u);
  EXPECT_TRUE(check_label_value(label).empty()) << label;
  EXPECT_NE(label, task_label_value(long_b));
  EXPECT_EQ(task_label_value("short-name"), "short-name");
  EXPECT_EQ(attempt_log_path("ns", "t", 2, 3), "ns/t/2-3.log");
}

TEST(CodecTest, YamlManifestToJsonAndBackIsIdentity) {
  const char* manifest = R"(apiVersion: solti.io/v1
kind: Task
metadata:
  name: periodic
  labels:
    app: demo
spec:
  timeout: 1h30m
  restartPolicy: Always
  restartInterval: 1500ms
  backoff:
    first: 250ms
    factor: 1.5
  runnerSelector:
    matchExpressions:
      - key: zone
        operator: NotIn
        values: [x]
  subprocess:
    script:
      runtime: python
      body: |
        import sys
        print("hi", file=sys.stderr)
    args: ["--flag", "true", "123"]
)";
  auto manifests = decode_task_manifests(manifest, Origin::kApi);
  ASSERT_TRUE(manifests.ok());
  ASSERT_EQ(manifests->size(), 1u);
  const TaskManifest& m = (*manifests)[0];
  ASSERT_TRUE(m.problems.empty()) << m.problems[0].to_string("x");
  Json json = encode_json(m.task);
  EXPECT_EQ(json, m.object);  // manifest -> JSON keeps every field as written
  auto back = parse_yaml(to_yaml(json));
  ASSERT_TRUE(back.ok());
  DecodeReport report;
  EXPECT_EQ(decode_json<Task>((*back)[0].value, report), m.task);  // JSON -> manifest
  EXPECT_EQ(m.task.spec.restart_interval->text(), "1500ms");
  EXPECT_EQ(m.task.spec.subprocess->args, (std::vector<std::string>{"--flag", "true", "123"}));
}

TEST(CodecTest, DetectsDocumentsNestedTooDeeply) {
  EXPECT_FALSE(json_nesting_exceeds(R"({"a":[{"b":[1,2]}]})", 4));
  EXPECT_TRUE(json_nesting_exceeds(R"({"a":[{"b":[1,2]}]})", 3));
  EXPECT_FALSE(
      json_nesting_exceeds(R"({"s":"[[[[[[\"{{{{"})", 1));  // brackets inside strings do not count
  EXPECT_TRUE(json_nesting_exceeds(std::string(200000, '[')));
  EXPECT_FALSE(json_nesting_exceeds(std::string(100, '[') + std::string(100, ']')));
}

TEST(DefaultsTest, EffectiveValuesOfAnEmptySpec) {
  Task t;
  t.metadata.name = "nightly";
  EXPECT_EQ(effective_slot(t), "nightly");
  EXPECT_EQ(effective_restart_policy(t.spec), RestartPolicy::kNever);
  EXPECT_EQ(effective_admission(t.spec), AdmissionPolicy::kDropIfRunning);
  BackoffParams b = effective_backoff(t.spec);
  EXPECT_EQ(b.first.count(), 1000);
  EXPECT_EQ(b.max.count(), 30000);
  EXPECT_EQ(b.factor, 2.0);
  EXPECT_EQ(b.jitter, JitterPolicy::kFull);
  EXPECT_EQ(effective_termination_grace(t.spec).count(), 10000);
  EXPECT_EQ(effective_restart_interval(t.spec).count(), 0);
  EXPECT_FALSE(effective_suspend(t.spec));
  EXPECT_TRUE(effective_fail_on_non_zero(SubprocessSpec{}));
}

TEST(DefaultsTest, ApplyDefaultsWritesEffectiveValuesAndKeepsExplicitOnes) {
  Task t;
  t.metadata.name = "nightly";
  t.spec.backoff.emplace().max = *Duration::parse("1m");
  t.spec.subprocess.emplace().command = "/bin/true";
  apply_defaults(t);
  EXPECT_EQ(t.spec.slot, "nightly");
  EXPECT_EQ(t.spec.restart_policy, RestartPolicy::kNever);
  EXPECT_EQ(t.spec.admission, AdmissionPolicy::kDropIfRunning);
  EXPECT_EQ(t.spec.termination_grace_period->text(), "10s");
  EXPECT_EQ(t.spec.suspend, false);
  EXPECT_EQ(t.spec.backoff->first->text(), "1s");
  EXPECT_EQ(t.spec.backoff->max->text(), "1m");
  EXPECT_EQ(t.spec.backoff->factor, 2.0);
  EXPECT_EQ(t.spec.backoff->jitter, JitterPolicy::kFull);
  EXPECT_EQ(t.spec.subprocess->fail_on_non_zero, true);
  Task again = t;
  apply_defaults(again);
  EXPECT_EQ(again, t);  // idempotent
  EXPECT_EQ(task_kind_name(t.spec), "subprocess");
}

}  // namespace
}  // namespace solti

namespace solti {
namespace {

TEST(StatusCodeTest, HttpCodesReadBackAsTheirStatusCode) {
  for (StatusCode code :
       {StatusCode::kBadRequest, StatusCode::kUnauthorized, StatusCode::kForbidden,
        StatusCode::kNotFound, StatusCode::kExpired, StatusCode::kInvalid,
        StatusCode::kTooManyRequests, StatusCode::kUnavailable}) {
    EXPECT_EQ(status_code_for_http(status_http_code(code)), code) << status_reason(code);
  }
  EXPECT_EQ(status_code_for_http(409), StatusCode::kConflict);
  EXPECT_EQ(status_code_for_http(599), StatusCode::kInternal);
}

TEST(ReadIdentityTest, ReadsMetadataAndStopsAtItsEnd) {
  // What follows metadata is never read: here it is not even JSON.
  auto id = read_identity(
      R"({"kind":"Task","metadata":{"labels":{"name":"x"},"name":"t","namespace":"ns",)"
      R"("managedFields":[{"manager":"m"}],"resourceVersion":"42"},"spec":{oops)");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->namespace_, "ns");
  EXPECT_EQ(id->name, "t");
  EXPECT_EQ(id->resource_version, "42");
}

TEST(ReadIdentityTest, ReadsMetadataWhereverItIsAndToleratesItsAbsence) {
  auto last = read_identity(R"({"spec":{"metadata":{"name":"inner"}},"metadata":{"name":"t"}})");
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->name, "t");
  EXPECT_EQ(last->namespace_, "");
  auto none = read_identity(R"({"kind":"Task"})");
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->name, "");
  EXPECT_FALSE(read_identity(R"({"metadata":{"name":)").has_value());
  EXPECT_FALSE(read_identity("").has_value());
}

}  // namespace
}  // namespace solti
