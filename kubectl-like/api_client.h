// A small client of the Solti API for soltictl: requests with the bearer
// token, Kubernetes Status bodies turned into Status errors (the server's
// message, which names the object and field), and Table output.
// Not thread-safe: one client per thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "model/object_meta.h"
#include "model/status.h"

namespace httplib {
class Client;
class Result;
}  // namespace httplib

namespace solti::ctl {

struct Connection {
  std::string server = "http://127.0.0.1:6443";
  std::string token;
  std::string ca_file;  // PEM bundle to verify an https server with
  std::string ca_pem;   // or the bundle itself (kubeconfig certificate-authority-data)
};

class ApiClient {
 public:
  explicit ApiClient(const Connection& connection);
  ~ApiClient();

  // Path of a collection or object: /apis/solti.io/v1[/namespaces/NS]/PLURAL[/NAME].
  static std::string path(const std::string& plural, const std::string& ns,
                          const std::string& name = "");

  Result<Json> get(const std::string& path);
  // The server's Table for kubectl-style columns.
  Result<Json> get_table(const std::string& path);
  // Server-side apply of `object` as `field_manager`; `created` tells
  // whether the object is new.
  Result<Json> apply(const std::string& path, const Json& object, const std::string& field_manager,
                     bool dry_run, bool& created);
  // A JSON merge patch as `field_manager`.
  Result<Json> merge_patch(const std::string& path, const Json& patch,
                           const std::string& field_manager);
  Result<Json> remove(const std::string& path);
  // GETs `path` and hands each piece of a 2xx body to `sink` as it
  // arrives (logs, watches; `table` asks for Table rows); an error reply
  // becomes its Status. `sink` returns false to stop early.
  Status stream(const std::string& path, const std::function<bool(std::string_view)>& sink,
                bool table = false);

  // Whether the last request got an HTTP reply (false: no connection).
  bool reached_server() const { return reached_server_; }

 private:
  // The reply's JSON, or its Status message as an error.
  Result<Json> reply(const std::string& what, const httplib::Result& r);

  Connection connection_;
  std::unique_ptr<httplib::Client> client_;
  bool reached_server_ = false;
};

}  // namespace solti::ctl
