// HTTP-level tests against a real soltid on 127.0.0.1 with a temp data dir.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>

#include "tests/integration/soltid_process.h"

namespace solti {
namespace {

using testing::SoltidProcess;

constexpr const char* kTasks = "/apis/solti.io/v1/namespaces/default/tasks";

using testing::Reply;

Json task(const std::string& name, const std::string& timeout = "10s") {
  return {{"apiVersion", "solti.io/v1"},
          {"kind", "Task"},
          {"metadata", {{"name", name}, {"labels", {{"app", "demo"}}}}},
          {"spec", {{"timeout", timeout}, {"subprocess", {{"command", "/bin/true"}}}}}};
}

// API semantics alone: without the reconciler, so that no Task runs and
// every write and event in these tests is the test's own.
class ApiServerTest : public ::testing::Test {
 protected:
  explicit ApiServerTest(std::vector<std::string> args = {}) : soltid_(with_api_only(args)) {}
  static std::vector<std::string> with_api_only(std::vector<std::string> args) {
    args.push_back("--no-reconciler");
    return args;
  }
  void SetUp() override { start(); }

  void start() {
    soltid_.start();
    client_ = soltid_.client();
  }

  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& content_type = "application/json", httplib::Headers headers = {}) {
    return testing::call(*client_, method, path, body, content_type, std::move(headers));
  }

  Reply create(const Json& object, const std::string& query = "") {
    return call("POST", std::string(kTasks) + query, object.dump());
  }

  // Reads watch events until `done` says so or the server ends the stream.
  std::vector<Json> watch(const std::string& query,
                          const std::function<bool(const std::vector<Json>&)>& done) {
    std::vector<Json> events;
    std::string buffer;
    auto c = soltid_.client();
    c->Get(std::string(kTasks) + "?watch=true&" + query, httplib::Headers{},
           [&](const char* data, size_t length) {
             buffer.append(data, length);
             size_t nl;
             while ((nl = buffer.find('\n')) != std::string::npos) {
               events.push_back(Json::parse(buffer.substr(0, nl), nullptr, false));
               buffer.erase(0, nl + 1);
             }
             return !done(events);
           });
    return events;
  }

  // Polls the solti_apiserver_watchers gauge for up to 10 s.
  bool watchers_gauge_reaches(int count) {
    const std::string line = "\nsolti_apiserver_watchers " + std::to_string(count) + "\n";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (call("GET", "/metrics").text.find(line) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Opens `count` watches, runs `while_open` once all are open, creates a
  // Task and returns how many watches saw exactly it.
  int watchers_that_see_the_next_create(int count, const std::function<void()>& while_open) {
    Reply before = create(task("seed"));
    std::atomic<int> delivered{0};
    std::vector<std::thread> watchers;
    for (int i = 0; i < count; ++i) {
      watchers.emplace_back([&] {
        auto events = watch("resourceVersion=" + rv(before.body) + "&timeoutSeconds=20",
                            [](const std::vector<Json>& e) { return !e.empty(); });
        if (events.size() == 1 && events[0]["object"]["metadata"]["name"] == "late") ++delivered;
      });
    }
    EXPECT_TRUE(watchers_gauge_reaches(count)) << "not every watch opened within 10 s";
    while_open();
    EXPECT_EQ(create(task("late")).status, 201);
    for (auto& w : watchers) w.join();
    return delivered.load();
  }

  static std::string rv(const Json& object) {
    return object["metadata"]["resourceVersion"].get<std::string>();
  }

  SoltidProcess soltid_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ApiServerTest, CreateGetListAndGenerationRules) {
  Reply created = create(task("a"));
  ASSERT_EQ(created.status, 201) << created.text;
  EXPECT_EQ(created.body["metadata"]["generation"], 1);
  EXPECT_EQ(created.body["spec"]["restartPolicy"], "Never");  // defaults are stored
  EXPECT_EQ(created.body["spec"]["slot"], "a");
  // API-only: no reconciler would ever remove a runner finalizer.
  EXPECT_FALSE(created.body["metadata"].contains("finalizers"));

  Reply got = call("GET", std::string(kTasks) + "/a");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body, created.body);

  // A spec change bumps the generation; status sent to the main resource is ignored.
  Json changed = got.body;
  changed["spec"]["timeout"] = "20s";
  changed["status"] = {{"phase", "Succeeded"}};
  Reply updated = call("PUT", std::string(kTasks) + "/a", changed.dump());
  ASSERT_EQ(updated.status, 200) << updated.text;
  EXPECT_EQ(updated.body["metadata"]["generation"], 2);
  EXPECT_FALSE(updated.body.contains("status"));

  // The same object again writes nothing: the resourceVersion stays.
  Reply same = call("PUT", std::string(kTasks) + "/a", updated.body.dump());
  ASSERT_EQ(same.status, 200);
  EXPECT_EQ(rv(same.body), rv(updated.body));

  // A label change is a write but not a new generation.
  Json labeled = updated.body;
  labeled["metadata"]["labels"]["tier"] = "gold";
  Reply relabeled = call("PUT", std::string(kTasks) + "/a", labeled.dump());
  ASSERT_EQ(relabeled.status, 200);
  EXPECT_EQ(relabeled.body["metadata"]["generation"], 2);
  EXPECT_NE(rv(relabeled.body), rv(updated.body));

  // /status writes only status.
  Json status_write = relabeled.body;
  status_write["spec"]["timeout"] = "99s";
  status_write["status"] = {{"phase", "Running"}, {"attempt", 1}};
  Reply status = call("PUT", std::string(kTasks) + "/a/status", status_write.dump());
  ASSERT_EQ(status.status, 200) << status.text;
  EXPECT_EQ(status.body["status"]["phase"], "Running");
  EXPECT_EQ(status.body["spec"]["timeout"], "20s");
  EXPECT_EQ(status.body["metadata"]["generation"], 2);

  Reply list = call("GET", kTasks);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["kind"], "TaskList");
  EXPECT_EQ(list.body["items"].size(), 1u);
  EXPECT_EQ(list.body["metadata"]["resourceVersion"], rv(status.body));
}

TEST_F(ApiServerTest, StaleResourceVersionIsAConflict) {
  Reply a = create(task("a"));
  Json first = a.body;
  first["spec"]["timeout"] = "11s";
  ASSERT_EQ(call("PUT", std::string(kTasks) + "/a", first.dump()).status, 200);
  Json stale = a.body;  // carries the old resourceVersion
  stale["spec"]["timeout"] = "12s";
  Reply conflict = call("PUT", std::string(kTasks) + "/a", stale.dump());
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(conflict.body["reason"], "Conflict");
  EXPECT_EQ(
      conflict.body["message"],
      "Operation cannot be fulfilled on tasks.solti.io \"a\": the object has been modified; please "
      "apply your changes to the latest version and try again");
  EXPECT_EQ(call("GET", std::string(kTasks) + "/a").body["spec"]["timeout"], "11s");
}

TEST_F(ApiServerTest, CreatingAnExistingNameIsAlreadyExists) {
  ASSERT_EQ(create(task("a")).status, 201);
  Reply again = create(task("a", "99s"));
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.body["reason"], "AlreadyExists");
  EXPECT_EQ(again.body["message"], "tasks.solti.io \"a\" already exists");
  EXPECT_EQ(again.body["details"]["name"], "a");
  EXPECT_EQ(again.body["details"]["kind"], "tasks");
}

TEST_F(ApiServerTest, InvalidObjectsAre422WithCauses) {
  Json bad = task("Bad_Name", "0s");
  Reply r = create(bad);
  ASSERT_EQ(r.status, 422) << r.text;
  EXPECT_EQ(r.body["reason"], "Invalid");
  EXPECT_EQ(r.body["details"]["kind"], "Task");
  const Json& causes = r.body["details"]["causes"];
  ASSERT_EQ(causes.size(), 2u);
  EXPECT_EQ(causes[0]["field"], "metadata.name");
  EXPECT_EQ(causes[1]["field"], "spec.timeout");
  EXPECT_EQ(causes[1]["message"], "must be greater than 0, got 0s");
  EXPECT_EQ(causes[1]["reason"], "FieldValueInvalid");
  EXPECT_EQ(call("GET", kTasks).body["items"].size(), 0u);
}

TEST_F(ApiServerTest, UnknownFieldsUnderStrictWarnAndIgnore) {
  Json typo = task("a");
  typo["spec"]["subprocess"]["comand"] = "x";
  Reply strict = create(typo, "?fieldValidation=Strict");
  EXPECT_EQ(strict.status, 400);
  EXPECT_EQ(strict.body["message"],
            "strict decoding error: unknown field \"spec.subprocess.comand\"");

  Reply warn = create(typo, "?fieldValidation=Warn");
  ASSERT_EQ(warn.status, 201);
  EXPECT_EQ(warn.headers.find("Warning")->second,
            "299 - \"unknown field \\\"spec.subprocess.comand\\\"\"");
  EXPECT_FALSE(warn.body["spec"]["subprocess"].contains("comand"));  // dropped, not stored

  typo["metadata"]["name"] = "b";
  Reply ignore = create(typo, "?fieldValidation=Ignore");
  EXPECT_EQ(ignore.status, 201);
  EXPECT_EQ(ignore.headers.count("Warning"), 0u);
  EXPECT_EQ(create(task("c"), "?fieldValidation=Sometimes").status, 400);
}

// Oversized, wrongly typed and deeply nested bodies: hostile_input_test.cc.

TEST_F(ApiServerTest, YamlBodiesAreAccepted) {
  Reply r =
      call("POST", kTasks,
           "apiVersion: solti.io/v1\nkind: Task\nmetadata:\n  name: y\nspec:\n  timeout: 5s\n  "
           "subprocess:\n    command: /bin/true\n",
           "application/yaml");
  EXPECT_EQ(r.status, 201) << r.text;
  Reply broken = call("POST", kTasks, "metadata: [unclosed\n", "application/yaml");
  EXPECT_EQ(broken.status, 400);
  EXPECT_NE(broken.body["message"].get<std::string>().find("line 2, column 1"), std::string::npos);
}

TEST_F(ApiServerTest, PatchesMergeAndJson) {
  ASSERT_EQ(create(task("a")).status, 201);
  Reply merged =
      call("PATCH", std::string(kTasks) + "/a", R"({"metadata":{"labels":{"app":null,"x":"y"}}})",
           "application/merge-patch+json");
  ASSERT_EQ(merged.status, 200) << merged.text;
  EXPECT_EQ(merged.body["metadata"]["labels"], Json({{"x", "y"}}));
  Reply json = call("PATCH", std::string(kTasks) + "/a",
                    R"([{"op":"replace","path":"/spec/timeout","value":"30s"}])",
                    "application/json-patch+json");
  ASSERT_EQ(json.status, 200) << json.text;
  EXPECT_EQ(json.body["spec"]["timeout"], "30s");
  EXPECT_EQ(json.body["metadata"]["generation"], 2);
  Reply failing =
      call("PATCH", std::string(kTasks) + "/a",
           R"([{"op":"test","path":"/spec/timeout","value":"1s"}])", "application/json-patch+json");
  EXPECT_EQ(failing.status, 422);
  Reply stale = call("PATCH", std::string(kTasks) + "/a",
                     R"({"metadata":{"resourceVersion":"1"},"spec":{"timeout":"40s"}})",
                     "application/merge-patch+json");
  EXPECT_EQ(stale.status, 409);
  Reply status =
      call("PATCH", std::string(kTasks) + "/a/status",
           R"({"status":{"phase":"Succeeded","exitCode":0}})", "application/merge-patch+json");
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(status.body["status"]["phase"], "Succeeded");
  Reply bad_status = call("PATCH", std::string(kTasks) + "/a/status",
                          R"({"status":{"phase":"Sleeping"}})", "application/merge-patch+json");
  EXPECT_EQ(bad_status.status, 422);
}

TEST_F(ApiServerTest, DryRunPersistsNothing) {
  Reply dry = create(task("a"), "?dryRun=All");
  ASSERT_EQ(dry.status, 201);
  EXPECT_EQ(dry.body["metadata"]["name"], "a");
  EXPECT_EQ(call("GET", std::string(kTasks) + "/a").status, 404);

  Reply real = create(task("a"));
  Reply patched = call("PATCH", std::string(kTasks) + "/a?dryRun=All",
                       R"({"spec":{"timeout":"77s"}})", "application/merge-patch+json");
  ASSERT_EQ(patched.status, 200);
  EXPECT_EQ(patched.body["spec"]["timeout"], "77s");
  Reply after = call("GET", std::string(kTasks) + "/a");
  EXPECT_EQ(after.body["spec"]["timeout"], "10s");
  EXPECT_EQ(rv(after.body), rv(real.body));
  EXPECT_EQ(call("DELETE", std::string(kTasks) + "/a?dryRun=All").status, 200);
  EXPECT_EQ(call("GET", std::string(kTasks) + "/a").status, 200);
  EXPECT_EQ(call("POST", std::string(kTasks) + "?dryRun=Some", task("b").dump()).status, 400);
}

TEST_F(ApiServerTest, FinalizersHoldDeletion) {
  Json guarded = task("a");
  guarded["metadata"]["finalizers"] = {"solti.io/runner"};
  ASSERT_EQ(create(guarded).status, 201);
  Reply deleting = call("DELETE", std::string(kTasks) + "/a");
  ASSERT_EQ(deleting.status, 200);
  EXPECT_TRUE(deleting.body["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(call("GET", std::string(kTasks) + "/a").status, 200);
  Reply add = call("PATCH", std::string(kTasks) + "/a",
                   R"({"metadata":{"finalizers":["solti.io/runner","x.io/y"]}})",
                   "application/merge-patch+json");
  EXPECT_EQ(add.status, 422);
  Reply release = call("PATCH", std::string(kTasks) + "/a", R"({"metadata":{"finalizers":null}})",
                       "application/merge-patch+json");
  EXPECT_EQ(release.status, 200);
  EXPECT_EQ(call("GET", std::string(kTasks) + "/a").status, 404);
}

TEST_F(ApiServerTest, DeletePreconditionsAndCollections) {
  Reply a = create(task("a"));
  Reply wrong = call("DELETE", std::string(kTasks) + "/a", R"({"preconditions":{"uid":"nope"}})");
  EXPECT_EQ(wrong.status, 409);
  Reply right = call("DELETE", std::string(kTasks) + "/a",
                     Json{{"preconditions", {{"uid", a.body["metadata"]["uid"]}}}}.dump());
  EXPECT_EQ(right.status, 200);
  EXPECT_EQ(call("DELETE", std::string(kTasks) + "/a").status, 404);

  for (auto name : {"x1", "x2", "y1"}) {
    Json t = task(name);
    t["metadata"]["labels"]["group"] = std::string(1, name[0]);
    ASSERT_EQ(create(t).status, 201);
  }
  Reply removed = call("DELETE", std::string(kTasks) + "?labelSelector=group%3Dx");
  EXPECT_EQ(removed.status, 200);
  EXPECT_EQ(call("GET", kTasks).body["items"].size(), 1u);
}

TEST_F(ApiServerTest, SelectorsAndPaging) {
  for (int i = 0; i < 5; ++i) {
    Json t = task("t" + std::to_string(i));
    t["metadata"]["labels"]["idx"] = std::to_string(i);
    ASSERT_EQ(create(t).status, 201);
  }
  EXPECT_EQ(
      call("GET", std::string(kTasks) + "?labelSelector=idx+in+%281%2C3%29").body["items"].size(),
      2u);
  EXPECT_EQ(
      call("GET", std::string(kTasks) + "?fieldSelector=metadata.name%3Dt4").body["items"].size(),
      1u);
  EXPECT_EQ(call("GET", std::string(kTasks) + "?labelSelector=idx+in+%28").status, 400);
  EXPECT_EQ(call("GET", std::string(kTasks) + "?fieldSelector=spec.nope%3D1").status, 400);
  EXPECT_EQ(call("GET", std::string(kTasks) + "?limit=-1").status, 400);

  std::vector<std::string> names;
  std::string token;
  int pages = 0;
  do {
    Reply page =
        call("GET", std::string(kTasks) + "?limit=2" + (token.empty() ? "" : "&continue=" + token));
    ASSERT_EQ(page.status, 200);
    for (const auto& item : page.body["items"]) names.push_back(item["metadata"]["name"]);
    token = page.body["metadata"].value("continue", "");
    if (pages == 0) {
      ASSERT_EQ(create(task("t9")).status, 201);  // not seen by this chain
    }
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names, (std::vector<std::string>{"t0", "t1", "t2", "t3", "t4"}));
  EXPECT_EQ(call("GET", std::string(kTasks) + "?limit=2&continue=garbage").status, 400);
}

TEST_F(ApiServerTest, TablesForKubectlGet) {
  ASSERT_EQ(create(task("a")).status, 201);
  Reply table =
      call("GET", kTasks, "", "", {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"}});
  ASSERT_EQ(table.status, 200);
  EXPECT_EQ(table.body["kind"], "Table");
  std::vector<std::string> columns;
  for (const auto& c : table.body["columnDefinitions"]) {
    if (c["priority"] == 0) columns.push_back(c["name"]);
  }
  EXPECT_EQ(columns, (std::vector<std::string>{"Name", "Slot", "Phase", "Attempt", "Exit", "Age"}));
  EXPECT_EQ(table.body["rows"][0]["cells"][0], "a");
  EXPECT_EQ(table.body["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

TEST_F(ApiServerTest, TaskRunsAreReadOnly) {
  const std::string runs = "/apis/solti.io/v1/namespaces/default/taskruns";
  EXPECT_EQ(call("GET", runs).status, 200);
  Reply post = call("POST", runs, "{}");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.body["reason"], "MethodNotAllowed");
  EXPECT_EQ(call("DELETE", runs + "/x").status, 405);
  EXPECT_EQ(call("GET", "/apis/solti.io/v1/namespaces/default/nothings").status, 404);
}

TEST_F(ApiServerTest, WatchDeliversChangesAndSelectorTransitions) {
  Reply a = create(task("a"));
  std::thread writer([&] {
    call("PATCH", std::string(kTasks) + "/a", R"({"metadata":{"labels":{"app":"other"}}})",
         "application/merge-patch+json");
    call("PATCH", std::string(kTasks) + "/a", R"({"metadata":{"labels":{"app":"demo"}}})",
         "application/merge-patch+json");
    call("DELETE", std::string(kTasks) + "/a");
  });
  auto events = watch("labelSelector=app%3Ddemo&resourceVersion=" + rv(a.body),
                      [](const std::vector<Json>& e) { return e.size() >= 3; });
  writer.join();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "DELETED");  // stopped matching
  EXPECT_EQ(events[1]["type"], "ADDED");    // matches again
  EXPECT_EQ(events[2]["type"], "DELETED");
  EXPECT_EQ(events[2]["object"]["metadata"]["name"], "a");
}

TEST_F(ApiServerTest, WatchWithoutVersionStartsWithTheCurrentState) {
  ASSERT_EQ(create(task("a")).status, 201);
  ASSERT_EQ(create(task("b")).status, 201);
  auto events = watch("timeoutSeconds=5", [](const std::vector<Json>& e) { return e.size() >= 2; });
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[1]["object"]["metadata"]["name"], "b");
}

TEST_F(ApiServerTest, SendInitialEventsEndsWithAnnotatedBookmark) {
  ASSERT_EQ(create(task("a")).status, 201);
  auto events = watch(
      "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=&"
      "allowWatchBookmarks=true",
      [](const std::vector<Json>& e) { return e.size() >= 2; });
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[1]["type"], "BOOKMARK");
  EXPECT_EQ(events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
}

TEST_F(ApiServerTest, WatchEndsAfterTimeoutSeconds) {
  auto start = std::chrono::steady_clock::now();
  auto events =
      watch("resourceVersion=0&timeoutSeconds=1", [](const std::vector<Json>&) { return false; });
  EXPECT_TRUE(events.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(ApiServerTest, WatchResumesAcrossARestartOfSoltid) {
  Reply a = create(task("a"));
  ASSERT_EQ(create(task("b")).status, 201);
  soltid_.stop();
  start();
  ASSERT_EQ(create(task("c")).status, 201);
  auto events = watch("resourceVersion=" + rv(a.body),
                      [](const std::vector<Json>& e) { return e.size() >= 2; });
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["object"]["metadata"]["name"], "b");
  EXPECT_EQ(events[1]["object"]["metadata"]["name"], "c");
}

TEST_F(ApiServerTest, AcknowledgedWritesSurviveKillNine) {
  std::vector<std::string> versions;
  for (int i = 0; i < 20; ++i) {
    Reply r = create(task("k" + std::to_string(i)));
    ASSERT_EQ(r.status, 201);
    versions.push_back(rv(r.body));
  }
  soltid_.kill9();
  start();
  for (int i = 0; i < 20; ++i) {
    Reply r = call("GET", std::string(kTasks) + "/k" + std::to_string(i));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(rv(r.body), versions[i]);
  }
}

class ShortHistoryTest : public ApiServerTest {
 protected:
  ShortHistoryTest()
      : ApiServerTest({"--history-min-revisions", "1", "--history-min-age", "0",
                       "--compaction-interval", "0.05", "--watch-bookmark-interval", "0.2"}) {}

  // Polls until the history before `revision` is compacted away.
  void wait_for_compaction(const std::string& revision) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      auto events = watch("resourceVersion=" + revision + "&timeoutSeconds=1",
                          [](const std::vector<Json>& e) { return !e.empty(); });
      if (!events.empty() && events[0]["type"] == "ERROR") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "history was not compacted";
  }
};

TEST_F(ShortHistoryTest, WatchBelowCompactionGets410Expired) {
  Reply a = create(task("a"));
  for (int i = 0; i < 5; ++i) ASSERT_EQ(create(task("b" + std::to_string(i))).status, 201);
  wait_for_compaction(rv(a.body));
  auto events =
      watch("resourceVersion=" + rv(a.body), [](const std::vector<Json>& e) { return !e.empty(); });
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ERROR");
  EXPECT_EQ(events[0]["object"]["code"], 410);
  EXPECT_EQ(events[0]["object"]["reason"], "Expired");
}

TEST_F(ShortHistoryTest, ContinueTokensExpireWithTheirHistory) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(create(task("t" + std::to_string(i))).status, 201);
  Reply page = call("GET", std::string(kTasks) + "?limit=1");
  std::string token = page.body["metadata"]["continue"];
  for (int i = 0; i < 3; ++i) ASSERT_EQ(create(task("u" + std::to_string(i))).status, 201);
  wait_for_compaction(page.body["metadata"]["resourceVersion"]);
  Reply next = call("GET", std::string(kTasks) + "?limit=1&continue=" + token);
  EXPECT_EQ(next.status, 410);
  EXPECT_EQ(next.body["reason"], "Expired");
}

TEST_F(ShortHistoryTest, BookmarksArriveWhenAllowed) {
  Reply a = create(task("a"));
  auto events = watch("allowWatchBookmarks=true&resourceVersion=" + rv(a.body),
                      [](const std::vector<Json>& e) { return !e.empty(); });
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "BOOKMARK");
  EXPECT_EQ(events[0]["object"]["metadata"]["resourceVersion"], rv(a.body));
}

TEST_F(ApiServerTest, ServerSideApplyCreatesUpdatesAndReportsConflicts) {
  const std::string path = std::string(kTasks) + "/s";
  const std::string yaml =
      "apiVersion: solti.io/v1\nkind: Task\nmetadata:\n  name: s\nspec:\n  timeout: 10s\n"
      "  subprocess:\n    command: /bin/true\n";
  Reply created = call("PATCH", path + "?fieldManager=ci", yaml, "application/apply-patch+yaml");
  ASSERT_EQ(created.status, 201) << created.text;
  EXPECT_EQ(created.body["metadata"]["managedFields"][0]["manager"], "ci");
  EXPECT_EQ(created.body["metadata"]["managedFields"][0]["operation"], "Apply");
  Reply same = call("PATCH", path + "?fieldManager=ci", yaml, "application/apply-patch+yaml");
  ASSERT_EQ(same.status, 200);
  EXPECT_EQ(rv(same.body), rv(created.body));  // nothing changed, nothing written

  std::string other = yaml;
  other.replace(other.find("10s"), 3, "20s");
  Reply conflict =
      call("PATCH", path + "?fieldManager=gitops", other, "application/apply-patch+yaml");
  ASSERT_EQ(conflict.status, 409);
  EXPECT_EQ(conflict.body["reason"], "Conflict");
  EXPECT_EQ(conflict.body["message"],
            "Apply failed with 1 conflict: conflict with \"ci\" using solti.io/v1: .spec.timeout");
  EXPECT_EQ(conflict.body["details"]["causes"][0]["reason"], "FieldManagerConflict");
  Reply forced = call("PATCH", path + "?fieldManager=gitops&force=true", other,
                      "application/apply-patch+yaml");
  ASSERT_EQ(forced.status, 200);
  EXPECT_EQ(forced.body["spec"]["timeout"], "20s");
  EXPECT_EQ(forced.body["metadata"]["generation"], 2);

  EXPECT_EQ(call("PATCH", path, yaml, "application/apply-patch+yaml").status,
            400);  // no fieldManager
  EXPECT_EQ(
      call("PATCH", path + "?force=true", R"({"spec":{}})", "application/merge-patch+json").status,
      400);
  Reply dry = call("PATCH", std::string(kTasks) + "/d?fieldManager=ci&dryRun=All",
                   "apiVersion: solti.io/v1\nkind: Task\nspec:\n  timeout: 1s\n  subprocess: "
                   "{command: /bin/true}\n",
                   "application/apply-patch+yaml");
  EXPECT_EQ(dry.status, 201) << dry.text;
  EXPECT_EQ(call("GET", std::string(kTasks) + "/d").status, 404);
}

// An apply patch is YAML; JSON (what clients send, read by the JSON fast
// path) and a YAML flow mapping (which only looks like JSON) both count.
TEST_F(ApiServerTest, ApplyPatchBodiesMayBeJsonOrFlowYaml) {
  const std::string json = R"({"apiVersion":"solti.io/v1","kind":"Task","metadata":{"name":"j"},)"
                           R"("spec":{"timeout":"10s","subprocess":{"command":"/bin/true"}}})";
  Reply from_json = call("PATCH", std::string(kTasks) + "/j?fieldManager=ci", json,
                         "application/apply-patch+yaml");
  ASSERT_EQ(from_json.status, 201) << from_json.text;
  EXPECT_EQ(from_json.body["spec"]["subprocess"]["command"], "/bin/true");
  const std::string flow =
      "{apiVersion: solti.io/v1, kind: Task, metadata: {name: f}, "
      "spec: {timeout: 10s, subprocess: {command: /bin/true}}}";
  Reply from_flow = call("PATCH", std::string(kTasks) + "/f?fieldManager=ci", flow,
                         "application/apply-patch+yaml");
  ASSERT_EQ(from_flow.status, 201) << from_flow.text;
  EXPECT_EQ(from_flow.body["spec"]["timeout"], "10s");
  Reply broken = call("PATCH", std::string(kTasks) + "/b?fieldManager=ci", "{\"kind\": [",
                      "application/apply-patch+yaml");
  EXPECT_EQ(broken.status, 400);
  EXPECT_NE(broken.body["message"].get<std::string>().find("YAML"), std::string::npos)
      << broken.text;
}

TEST_F(ApiServerTest, MetricsCountRequestsWatchersAndTheStore) {
  Reply created = create(task("m"));
  ASSERT_EQ(call("GET", std::string(kTasks) + "/nope").status, 404);
  std::atomic<bool> watching{false};
  std::thread watcher([&] {
    watch("resourceVersion=" + rv(created.body) + "&timeoutSeconds=3",
          [&](const std::vector<Json>&) {
            watching = true;
            return false;
          });
  });
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    text = call("GET", "/metrics").text;
    if (text.find("solti_apiserver_watchers 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  watcher.join();
  EXPECT_NE(
      text.find(R"(solti_apiserver_requests_total{code="201",resource="tasks",verb="create"} 1)"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(R"(solti_apiserver_requests_total{code="404",resource="tasks",verb="get"} 1)"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          R"(solti_apiserver_request_duration_seconds_count{resource="tasks",verb="create"} 1)"),
      std::string::npos);
  EXPECT_NE(text.find("solti_apiserver_watchers 1"), std::string::npos);
  EXPECT_NE(text.find("solti_store_revision " + rv(created.body)), std::string::npos);
  EXPECT_NE(text.find("solti_store_writes_total 1"), std::string::npos);
  // The one Task sits in a memtable and in the watch cache.
  for (const char* part : {"memtables", "watch_cache"}) {
    const std::string gauge = "solti_store_memory_bytes{part=\"" + std::string(part) + "\"} ";
    const size_t at = text.find(gauge);
    ASSERT_NE(at, std::string::npos) << part;
    EXPECT_GT(std::stod(text.substr(at + gauge.size())), 0) << part;
  }
  EXPECT_NE(text.find(R"(solti_store_memory_bytes{part="table_readers"})"), std::string::npos);
  EXPECT_NE(text.find(R"(solti_store_memory_bytes{part="block_cache"})"), std::string::npos);
}

TEST_F(ApiServerTest, HundredsOfWatchesOpenAtOnceAndAllSeeTheEvent) {
  constexpr int kWatchers = 200;  // far beyond cpp-httplib's default listen backlog of 5
  EXPECT_EQ(watchers_that_see_the_next_create(kWatchers, [] {}), kWatchers);
}

// Plain-HTTP watches are handed to the watch fanout's event loops, so they
// do not hold the server's connection threads: with eight of those, eight
// watches stay open, all see the next event, and other requests are
// answered meanwhile. Watches are bounded like connections: a ninth gets
// 429 with Retry-After. A watcher that leaves is forgotten.
class FewConnectionsTest : public ApiServerTest {
 protected:
  FewConnectionsTest() : ApiServerTest({"--max-connections", "8"}) {}
};

TEST_F(FewConnectionsTest, WatchesDoNotHoldConnectionThreadsAndAreBounded) {
  constexpr int kWatchers = 8;
  EXPECT_EQ(watchers_that_see_the_next_create(kWatchers,
                                              [&] {
                                                EXPECT_EQ(call("GET", "/readyz").status, 200);
                                                Reply more = call(
                                                    "GET", std::string(kTasks) + "?watch=true");
                                                ASSERT_EQ(more.status, 429) << more.text;
                                                EXPECT_EQ(more.body["reason"], "TooManyRequests");
                                              }),
            kWatchers);
  EXPECT_TRUE(watchers_gauge_reaches(0));
}

// The crew's supervisor holds one of cpp-httplib's job threads for the
// server's life; the rest still hand connections over.
class OneConnectionTest : public ApiServerTest {
 protected:
  OneConnectionTest() : ApiServerTest({"--max-connections", "1"}) {}
};

TEST_F(OneConnectionTest, ConnectionsOneAfterAnotherAreAllServed) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(call("GET", "/readyz").status, 200) << i;
}

TEST_F(ApiServerTest, ASecondSoltidOnTheSamePortOrDataDirFailsCleanly) {
  SoltidProcess other;
  const std::string port_taken = std::string(SOLTI_SOLTID) + " --data-dir " + other.data_dir() +
                                 " --listen 127.0.0.1:" + std::to_string(soltid_.port()) +
                                 " 2>/dev/null";
  int rc = std::system(port_taken.c_str());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 1) << rc;
  const std::string dir_taken = std::string(SOLTI_SOLTID) + " --data-dir " + soltid_.data_dir() +
                                " --listen 127.0.0.1:0 2>/dev/null";
  rc = std::system(dir_taken.c_str());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 1) << rc;
  EXPECT_EQ(call("GET", "/readyz").text, "ok");  // the first one is unharmed
}

TEST_F(ApiServerTest, DiscoveryAndOpenApi) {
  Reply version = call("GET", "/version");
  EXPECT_EQ(version.body["minor"], "32");
  EXPECT_EQ(call("GET", "/api").status, 404);
  Reply aggregated =
      call("GET", "/apis", "", "",
           {{"Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}});
  EXPECT_EQ(aggregated.headers.find("Content-Type")->second,
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
  EXPECT_EQ(aggregated.body["items"][0]["versions"][0]["resources"][0]["shortNames"][0], "tk");
  Reply old =
      call("GET", "/apis", "", "",
           {{"Accept",
             "application/"
             "json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"}});
  EXPECT_EQ(old.body["apiVersion"], "apidiscovery.k8s.io/v2beta1");
  EXPECT_EQ(call("GET", "/apis").body["kind"], "APIGroupList");
  Reply index = call("GET", "/openapi/v3");
  std::string url = index.body["paths"]["apis/solti.io/v1"]["serverRelativeURL"];
  Reply doc = call("GET", url);
  ASSERT_EQ(doc.status, 200);
  const Json& patch =
      doc.body["paths"]["/apis/solti.io/v1/namespaces/{namespace}/tasks/{name}"]["patch"];
  EXPECT_TRUE(patch["x-kubernetes-group-version-kind"].is_object());
  EXPECT_FALSE(patch["requestBody"]["content"].contains("application/strategic-merge-patch+json"));
  EXPECT_TRUE(
      doc.body["components"]["schemas"]["io.solti.v1.Task"]["x-kubernetes-group-version-kind"]
          .is_array());
  EXPECT_EQ(call("GET", "/openapi/v2").status, 200);
  EXPECT_EQ(call("GET", "/readyz").text, "ok");
}

}  // namespace
}  // namespace solti
