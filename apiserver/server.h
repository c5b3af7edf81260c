// The HTTP face of soltid: Kubernetes-compatible REST on cpp-httplib
// (DESIGN §6). Routes requests to the registries, negotiates JSON/YAML
// bodies and Table output, streams watches as chunked JSON lines, and turns
// every error into a Kubernetes Status object.
//
// cpp-httplib serves each connection on one thread of a fixed pool, so the
// pool size bounds the number of concurrent connections (watches included).
// Thread-safe; start() once, stop() once.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "model/clock.h"
#include "model/status.h"
#include "store/store.h"

namespace solti::api {

class Registry;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 6443;  // 0 = any free port (see ApiServer::port())
  // Connections served at once, and (separately) watches open at once: a
  // plain-HTTP watch is streamed by the watch fanout, not a connection
  // thread. A watch beyond the bound gets 429 with Retry-After.
  size_t max_connections = 2048;
  size_t max_body_bytes = 4 * 1024 * 1024;
  // How long a watch without timeoutSeconds stays open (the apiserver's
  // min-request-timeout is 30 minutes).
  std::chrono::seconds default_watch_timeout{std::chrono::minutes(30)};
  std::chrono::milliseconds bookmark_interval{std::chrono::seconds(60)};
  std::string version = "0.1.0";
  // HTTPS when both are given.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Bearer tokens (Kubernetes static token CSV) and who may do what; off
  // when empty. See apiserver/auth.h for the formats.
  std::string token_auth_file;
  std::string authorization_policy_file;
  // Whether a reconciler runs this server's Tasks: created Tasks then carry
  // its finalizer from the start (see make_task_strategy).
  bool runner_finalizer = false;
  // Where attempt logs are (Strategy::log_ref paths are relative to it);
  // empty: the log subresource answers 404.
  std::string logs_dir;
};

class ApiServer {
 public:
  ApiServer(ServerOptions options, store::Store& store, Clock& clock);
  ~ApiServer();

  // Binds and starts serving in the background; /readyz is 200 from here on.
  Status start();
  int port() const;
  // The registry serving `plural` ("tasks", "taskruns"), for in-process
  // clients such as the reconciler; nullptr for an unknown resource.
  Registry* registry(std::string_view plural);
  // Stops accepting, ends open watches, waits for the serving threads.
  void stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace solti::api
