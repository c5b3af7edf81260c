#include "kubectl-like/api_client.h"

#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace solti::ctl {
namespace {

constexpr const char* kTableAccept =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

// An OpenSSL certificate store holding every certificate of a PEM bundle;
// cpp-httplib takes ownership.
X509_STORE* ca_store(const std::string& pem) {
  X509_STORE* store = X509_STORE_new();
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);
    X509_free(cert);
  }
  BIO_free(bio);
  return store;
}

}  // namespace

ApiClient::ApiClient(const Connection& connection)
    : connection_(connection), client_(std::make_unique<httplib::Client>(connection.server)) {
  // One connection for all of a client's requests: a connect per request
  // cost apply of 1,000 manifests a third of its client CPU. Without
  // NODELAY, a request body sent after its headers on a reused connection
  // waits for the server's delayed ACK (40 ms).
  client_->set_keep_alive(true);
  client_->set_tcp_nodelay(true);
  client_->set_connection_timeout(std::chrono::seconds(10));
  client_->set_read_timeout(std::chrono::seconds(60));
  if (!connection.token.empty()) client_->set_bearer_token_auth(connection.token);
  if (!connection.ca_file.empty()) client_->set_ca_cert_path(connection.ca_file.c_str());
  if (!connection.ca_pem.empty()) client_->set_ca_cert_store(ca_store(connection.ca_pem));
}

ApiClient::~ApiClient() = default;

std::string ApiClient::path(const std::string& plural, const std::string& ns,
                            const std::string& name) {
  std::string p = "/apis/solti.io/v1";
  if (!ns.empty()) p += "/namespaces/" + ns;
  p += "/" + plural;
  if (!name.empty()) p += "/" + name;
  return p;
}

Result<Json> ApiClient::reply(const std::string& what, const httplib::Result& r) {
  reached_server_ = bool(r);
  if (!r) {
    return Status(StatusCode::kUnavailable, "cannot reach " + connection_.server + " (" +
                                                httplib::to_string(r.error()) +
                                                " error; is soltid running? see --server)");
  }
  const int status = r->status;
  Json parsed = Json::parse(r->body, nullptr, false);
  if (status >= 200 && status < 300) {
    if (parsed.is_discarded())
      return Status(StatusCode::kInternal, what + ": the reply is not JSON");
    return parsed;
  }
  std::string message = parsed.is_object() && parsed.contains("message")
                            ? parsed["message"].get<std::string>()
                            : "HTTP " + std::to_string(status);
  return Status(status_code_for_http(status), message);
}

Result<Json> ApiClient::get(const std::string& path) {
  return reply("GET " + path, client_->Get(path));
}

Result<Json> ApiClient::get_table(const std::string& path) {
  httplib::Headers headers = {{"Accept", kTableAccept}};
  return reply("GET " + path, client_->Get(path, headers));
}

Result<Json> ApiClient::apply(const std::string& path, const Json& object,
                              const std::string& field_manager, bool dry_run, bool& created) {
  std::string query = "?fieldManager=" + field_manager + "&force=true";
  if (dry_run) query += "&dryRun=All";
  auto r = client_->Patch(path + query, object.dump(), "application/apply-patch+yaml");
  created = r && r->status == 201;
  return reply("PATCH " + path, r);
}

Result<Json> ApiClient::merge_patch(const std::string& path, const Json& patch,
                                    const std::string& field_manager) {
  return reply("PATCH " + path, client_->Patch(path + "?fieldManager=" + field_manager,
                                               patch.dump(), "application/merge-patch+json"));
}

Result<Json> ApiClient::remove(const std::string& path) {
  return reply("DELETE " + path, client_->Delete(path));
}

Status ApiClient::stream(const std::string& path, const std::function<bool(std::string_view)>& sink,
                         bool table) {
  int status = 0;
  bool stopped = false;  // by the sink: not an error
  std::string error_body;
  client_->set_read_timeout(std::chrono::hours(24));  // a followed log may be quiet for long
  httplib::Headers headers;
  if (table) headers.emplace("Accept", kTableAccept);
  auto r = client_->Get(
      path, headers,
      [&](const httplib::Response& response) {
        status = response.status;
        return true;
      },
      [&](const char* data, size_t length) {
        if (status >= 200 && status < 300) {
          stopped = !sink(std::string_view(data, length));
          return !stopped;
        } else {
          error_body.append(data, length);
        }
        return true;
      });
  client_->set_read_timeout(std::chrono::seconds(60));
  if (stopped || (r && r->status >= 200 && r->status < 300)) {
    reached_server_ = true;
    return Status::Ok();
  }
  if (r) r->body = error_body;
  auto failed = reply("GET " + path, r);
  return failed.ok() ? Status(StatusCode::kInternal, "unexpected reply") : failed.status();
}

}  // namespace solti::ctl
