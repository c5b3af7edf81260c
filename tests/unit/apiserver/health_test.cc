// The health probes report a store that can no longer make writes durable:
// such a store refuses every write until a restart, so a supervisor must
// see soltid as neither ready nor live.
#include <gtest/gtest.h>
#include <httplib.h>

#include "apiserver/server.h"
#include "model/object_meta.h"
#include "tests/unit/store/store_fixture.h"

namespace solti::api {
namespace {

class HealthTest : public store::testing::StoreFixture {
 protected:
  void SetUp() override {
    open();
    ServerOptions options;
    options.port = 0;
    server_ = std::make_unique<ApiServer>(options, *store_, clock_);
    ASSERT_TRUE(server_->start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  void TearDown() override { server_->stop(); }

  httplib::Result create(const std::string& name) {
    Json task = {{"apiVersion", "solti.io/v1"},
                 {"kind", "Task"},
                 {"metadata", {{"name", name}}},
                 {"spec", {{"timeout", "5s"}, {"subprocess", {{"command", "/bin/true"}}}}}};
    return client_->Post("/apis/solti.io/v1/namespaces/default/tasks", task.dump(),
                         "application/json");
  }

  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HealthTest, AStoreThatRefusesWritesFailsEveryProbe) {
  ASSERT_EQ(create("before")->status, 201);
  for (const char* probe : {"/healthz", "/livez", "/readyz"}) {
    auto res = client_->Get(probe);
    ASSERT_TRUE(res) << probe;
    EXPECT_EQ(res->status, 200) << probe;
    EXPECT_EQ(res->body, "ok") << probe;
  }

  ASSERT_EQ(store::testing::break_write_ahead_log(dir_), 1);
  auto refused = create("after");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 500) << refused->body;

  for (const char* probe : {"/healthz", "/livez", "/readyz"}) {
    auto res = client_->Get(probe);
    ASSERT_TRUE(res) << probe;
    EXPECT_EQ(res->status, 503) << probe;
    Json status = Json::parse(res->body);
    EXPECT_EQ(status["kind"], "Status");
    EXPECT_NE(status["message"].get<std::string>().find("store: writing to the store"),
              std::string::npos)
        << status.dump();
  }
  // Reads still serve what was stored.
  auto before = client_->Get("/apis/solti.io/v1/namespaces/default/tasks/before");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 200);
}

}  // namespace
}  // namespace solti::api
