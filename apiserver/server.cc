#include "apiserver/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "apiserver/auth.h"
#include "apiserver/connection_pool.h"
#include "apiserver/discovery.h"
#include "apiserver/handoff_server.h"
#include "apiserver/log_file.h"
#include "apiserver/metrics.h"
#include "apiserver/registry.h"
#include "apiserver/resources.h"
#include "apiserver/watch_fanout.h"
#include "model/json_codec.h"
#include "model/names.h"
#include "model/yaml.h"

namespace solti::api {
namespace {

using httplib::Request;
using httplib::Response;

constexpr size_t kMaxPageSize = 1000;
constexpr int kListenBacklog = 4096;
constexpr std::string_view kJson = "application/json";

// --- responses ----------------------------------------------------------------

Json status_document(const Status& status, const ResourceInfo* info, const std::string& name) {
  Json doc = {{"kind", "Status"},
              {"apiVersion", "v1"},
              {"metadata", Json::object()},
              {"status", "Failure"},
              {"message", status.message()},
              {"reason", std::string(status_reason(status.code()))},
              {"code", status_http_code(status.code())}};
  Json details = Json::object();
  if (info) {
    if (!name.empty()) details["name"] = name;
    details["group"] = info->group;
    details["kind"] = status.code() == StatusCode::kInvalid ? info->kind : info->plural;
  }
  if (!status.causes().empty()) {
    Json causes = Json::array();
    for (const auto& cause : status.causes()) {
      causes.push_back({{"reason", std::string(cause.reason())},
                        {"message", cause.message},
                        {"field", cause.field}});
    }
    details["causes"] = std::move(causes);
  }
  if (!details.empty()) doc["details"] = std::move(details);
  return doc;
}

void reply(Response& res, int code, const std::string& body, std::string_view type = kJson) {
  res.status = code;
  res.set_content(body, std::string(type));
}

void reply_error(Response& res, const Status& status, const ResourceInfo* info = nullptr,
                 const std::string& name = "") {
  reply(res, status_http_code(status.code()), json_text(status_document(status, info, name)));
}

void add_warnings(Response& res, const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) {
    std::string escaped;
    for (char c : w) {
      if (c == '"' || c == '\\') escaped += '\\';
      escaped += c;
    }
    res.set_header("Warning", "299 - \"" + escaped + "\"");
  }
}

// --- request parsing ------------------------------------------------------------

Status bad_request(std::string message) {
  return Status(StatusCode::kBadRequest, std::move(message));
}

std::string lowercase(std::string text) {
  for (auto& c : text) c = char(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string media_type(const std::string& content_type) {
  std::string type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return lowercase(std::move(type));
}

enum class BodyKind { kObject, kMergePatch, kJsonPatch, kApplyPatch };

Status too_large(size_t limit) {
  return Status(StatusCode::kRequestEntityTooLarge,
                "the request body is too large (limit " + std::to_string(limit) + " bytes)");
}

// What a YAML body may hold: far more than any one object needs, and still
// a bound on the memory yaml-cpp takes for it (some 300 bytes a token).
constexpr size_t kMaxYamlBodyTokens = 50000;

// A body over the limit is still read, and dropped, up to this many times
// the limit: a client that writes its whole body before it reads the reply
// (cpp-httplib's does) then gets the 413 rather than a reset connection.
// A body declared larger still is refused unread.
constexpr size_t kDrainedBodyFactor = 4;

// Write routes read their bodies here rather than letting cpp-httplib 0.11
// do it: it buffers a chunked body without any bound, inflates a gzip body
// without any bound, reads a body without a length until the client closes
// (holding a thread meanwhile), and waits out its read timeout to skip a
// body declared too large. Here no more than `limit` bytes are kept, and a
// request with neither Content-Length nor chunked encoding has no body
// (RFC 9112 §6.3), as in Go's server (kube-apiserver).
Status read_bounded_body(const Request& req, const httplib::ContentReader& read, size_t limit,
                         std::string& body) {
  const std::string coding = lowercase(req.get_header_value("Content-Encoding"));
  if (!coding.empty() && coding != "identity") {
    return Status(StatusCode::kUnsupportedMediaType,
                  "Content-Encoding \"" + coding + "\" is not supported: send the body unencoded");
  }
  // cpp-httplib's reader needs multipart handlers, which no route has.
  if (req.is_multipart_form_data()) {
    return Status(StatusCode::kUnsupportedMediaType,
                  "multipart bodies are not supported: send application/json or application/yaml");
  }
  const std::string transfer = lowercase(req.get_header_value("Transfer-Encoding"));
  if (!transfer.empty() && transfer != "chunked") {
    return bad_request("Transfer-Encoding \"" + transfer + "\" is not supported: only chunked is");
  }
  if (transfer.empty()) {
    if (!req.has_header("Content-Length")) return Status::Ok();
    const std::string length = req.get_header_value("Content-Length");
    for (size_t i = 1; i < req.get_header_value_count("Content-Length"); ++i) {
      if (req.get_header_value("Content-Length", i) != length)
        return bad_request("conflicting Content-Length headers");
    }
    if (length.empty() || length.size() > 19 ||
        length.find_first_not_of("0123456789") != std::string::npos) {
      return bad_request("invalid Content-Length \"" + length + "\"");
    }
    const uint64_t declared = std::stoull(length);
    if (declared > limit * kDrainedBodyFactor) return too_large(limit);
    body.reserve(std::min<uint64_t>(declared, limit));
  }
  size_t received = 0;
  const bool complete = read([&](const char* data, size_t size) {
    received += size;
    if (received <= limit) {
      body.append(data, size);
      return true;
    }
    body.clear();
    return received <= limit * kDrainedBodyFactor;
  });
  if (received > limit) return too_large(limit);
  if (!complete) {
    return bad_request(
        "the request body could not be read (malformed chunked encoding, or the client stopped "
        "sending)");
  }
  return Status::Ok();
}

Result<BodyKind> body_kind(const Request& req, bool patch) {
  std::string type = media_type(req.get_header_value("Content-Type"));
  if (patch) {
    if (type == "application/merge-patch+json") return BodyKind::kMergePatch;
    if (type == "application/json-patch+json") return BodyKind::kJsonPatch;
    if (type == "application/apply-patch+yaml") return BodyKind::kApplyPatch;
    return Status(
        StatusCode::kUnsupportedMediaType,
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
  }
  if (type.empty() || type == "application/json" || type == "application/yaml")
    return BodyKind::kObject;
  return Status(StatusCode::kUnsupportedMediaType,
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json, application/yaml");
}

bool starts_like_json_object(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && text[first] == '{';
}

Result<Json> parse_body(const Request& req, bool yaml) {
  if (req.body.empty()) return bad_request("the request body is empty");
  // Clients (soltictl, kubectl) send apply patches as JSON, which is YAML:
  // nlohmann reads it several times faster than yaml-cpp. What JSON cannot
  // read (a YAML flow mapping) still goes to the YAML parser.
  if (yaml && starts_like_json_object(req.body) && !json_nesting_exceeds(req.body)) {
    Json parsed = Json::parse(req.body, nullptr, false);
    if (!parsed.is_discarded()) return parsed;
  }
  if (!yaml) {
    if (json_nesting_exceeds(req.body)) {
      return bad_request("the JSON body is nested deeper than " +
                         std::to_string(kMaxDocumentDepth) + " levels");
    }
    try {
      return Json::parse(req.body);
    } catch (const Json::exception& e) {
      // parse_error, and out_of_range for a number beyond a double (1e999).
      return bad_request(std::string("couldn't decode the JSON body: ") + e.what());
    }
  }
  auto docs = parse_yaml(req.body, kMaxYamlBodyTokens);
  if (!docs.ok()) return bad_request("couldn't decode the YAML body: " + docs.status().message());
  if (docs->size() != 1) return bad_request("the YAML body must hold exactly one document");
  return std::move((*docs)[0].value);
}

Result<Json> read_body(const Request& req, BodyKind kind) {
  const bool yaml = kind == BodyKind::kApplyPatch ||
                    media_type(req.get_header_value("Content-Type")) == "application/yaml";
  return parse_body(req, yaml);
}

// metadata.name for Status details, "" when absent or not a string (the
// strategy reports that as a field error).
std::string metadata_name(const Json& object) {
  if (!object.is_object()) return "";
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto name = meta->find("name");
  return name != meta->end() && name->is_string() ? name->get<std::string>() : "";
}

Result<bool> bool_param(const Request& req, const std::string& name) {
  if (!req.has_param(name.c_str())) return false;
  std::string v = req.get_param_value(name.c_str());
  if (v == "true" || v == "1" || v == "True") return true;
  if (v == "false" || v == "0" || v == "False" || v.empty()) return false;
  return bad_request("invalid value for " + name + ": \"" + v + "\" (expected true or false)");
}

Result<int64_t> int_param(const Request& req, const std::string& name) {
  if (!req.has_param(name.c_str())) return int64_t{0};
  std::string v = req.get_param_value(name.c_str());
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
    return bad_request("invalid value for " + name + ": \"" + v +
                       "\" (expected a non-negative integer)");
  }
  return std::stoll(v);
}

Result<WriteOptions> write_options(const Request& req) {
  WriteOptions options;
  if (req.has_param("dryRun")) {
    std::string v = req.get_param_value("dryRun");
    if (v != "All")
      return bad_request("invalid dryRun value \"" + v + "\": only \"All\" is supported");
    options.dry_run = true;
  }
  if (req.has_param("fieldValidation")) {
    std::string v = req.get_param_value("fieldValidation");
    if (v == "Strict") {
      options.field_validation = FieldValidation::kStrict;
    } else if (v == "Warn") {
      options.field_validation = FieldValidation::kWarn;
    } else if (v == "Ignore") {
      options.field_validation = FieldValidation::kIgnore;
    } else {
      return bad_request("invalid fieldValidation value \"" + v +
                         "\": must be one of Strict, Warn, Ignore");
    }
  }
  options.field_manager = req.get_param_value("fieldManager");
  if (options.field_manager.size() > 128 || !is_valid_utf8(options.field_manager)) {
    return bad_request("fieldManager must be valid UTF-8 of at most 128 characters");
  }
  return options;
}

// Kubernetes' ValidateListOptions: the combinations of resourceVersionMatch
// and sendInitialEvents a list or a watch accepts; 422 for ListOptions.
Status check_list_options(const Request& req, bool watch) {
  const std::string rv = req.get_param_value("resourceVersion");
  const std::string match = req.get_param_value("resourceVersionMatch");
  const bool initial_events = req.has_param("sendInitialEvents");
  FieldErrors errors;
  auto add = [&](FieldErrorType type, const char* field, std::string message) {
    errors.push_back({type, field, std::move(message)});
  };
  const std::vector<std::string> supported =
      watch ? std::vector<std::string>{"NotOlderThan"}
            : std::vector<std::string>{"Exact", "NotOlderThan"};
  if (!match.empty() && std::find(supported.begin(), supported.end(), match) == supported.end()) {
    std::string names;
    for (const auto& s : supported) names += (names.empty() ? "\"" : ", \"") + s + "\"";
    add(FieldErrorType::kNotSupported, "resourceVersionMatch",
        "unsupported value \"" + match + "\" (supported: " + names + ")");
  }
  if (watch) {
    if (initial_events && match != "NotOlderThan") {
      add(FieldErrorType::kForbidden, "resourceVersionMatch",
          "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan");
    }
    if (!match.empty() && !initial_events) {
      add(FieldErrorType::kForbidden, "resourceVersionMatch",
          "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
    }
  } else {
    if (!match.empty() && rv.empty()) {
      add(FieldErrorType::kForbidden, "resourceVersionMatch",
          "resourceVersionMatch is forbidden unless resourceVersion is provided");
    }
    if (match == "Exact" && rv == "0") {
      add(FieldErrorType::kForbidden, "resourceVersionMatch",
          "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"");
    }
    if (initial_events) {
      add(FieldErrorType::kForbidden, "sendInitialEvents",
          "sendInitialEvents is forbidden for list");
    }
  }
  if (errors.empty()) return Status::Ok();
  std::string message = "ListOptions.meta.k8s.io \"\" is invalid: ";
  message += errors.size() == 1 ? errors[0].to_string() : "[" + join_field_errors(errors) + "]";
  return Status(StatusCode::kInvalid, std::move(message), std::move(errors));
}

// `watch`: the query of a watch rather than a list (ListOptions rules differ).
Result<ListQuery> list_query(const Request& req, const Registry& registry, bool watch) {
  ListQuery query;
  if (req.has_param("labelSelector")) {
    auto labels = Selector::parse(req.get_param_value("labelSelector"));
    if (!labels.ok()) return labels.status();
    query.labels = std::move(labels).value();
  }
  if (req.has_param("fieldSelector")) {
    auto fields = FieldSelector::parse(req.get_param_value("fieldSelector"));
    if (!fields.ok()) return fields.status();
    if (Status s = fields->check_fields(registry.selectable_fields()); !s.ok()) return s;
    query.fields = std::move(fields).value();
  }
  auto limit = int_param(req, "limit");
  if (!limit.ok()) return limit.status();
  query.limit = std::min<size_t>(size_t(*limit), kMaxPageSize);
  query.continue_token = req.get_param_value("continue");
  const std::string rv = req.get_param_value("resourceVersion");
  if (!rv.empty()) {
    auto revision = parse_resource_version(rv);
    if (!revision) {
      return bad_request("invalid resourceVersion \"" + rv +
                         "\": must be a decimal number of at most 64 bits");
    }
    query.resource_version = *revision;
  }
  if (Status s = check_list_options(req, watch); !s.ok()) return s;
  return query;
}

// Without ?fieldManager, Kubernetes names a writer by its User-Agent's
// first word ("kubectl/v1.32 ..." -> "kubectl").
std::string default_manager(const Request& req, const std::string& given) {
  if (!given.empty()) return given;
  std::string agent = req.get_header_value("User-Agent");
  agent = agent.substr(0, agent.find_first_of("/ "));
  return agent.empty() || agent.size() > 128 || !is_valid_utf8(agent) ? "unknown" : agent;
}

bool wants_table(const Request& req) {
  return req.get_header_value("Accept").find("as=Table") != std::string::npos;
}

std::string aggregated_version(const Request& req) {
  const std::string accept = req.get_header_value("Accept");
  if (accept.find("as=APIGroupDiscoveryList") == std::string::npos) return "";
  if (accept.find("v=v2;") != std::string::npos || accept.find("v=v2,") != std::string::npos ||
      (accept.size() >= 4 && accept.compare(accept.size() - 4, 4, "v=v2") == 0))
    return "v2";
  if (accept.find("v=v2beta1") != std::string::npos) return "v2beta1";
  return "";
}

std::string content_hash(const std::string& text) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016zX", std::hash<std::string>{}(text));
  return buf;
}

// The verb and resource of a request, for metrics.
std::pair<std::string, std::string> classify(const Request& req) {
  static const std::regex kResourcePath(
      R"(^/apis/solti\.io/v1/(?:namespaces/[^/]+/)?([^/]+)(/[^/]+)?(/[^/]+)?$)");
  std::smatch m;
  if (!std::regex_match(req.path, m, kResourcePath)) {
    std::string method = req.method;
    for (auto& c : method) c = char(std::tolower(static_cast<unsigned char>(c)));
    return {method, ""};
  }
  const bool item = m[2].matched;
  std::string verb;
  if (req.method == "GET") {
    verb = item ? "get" : req.get_param_value("watch") == "true" ? "watch" : "list";
  } else if (req.method == "POST") {
    verb = "create";
  } else if (req.method == "PUT") {
    verb = "update";
  } else if (req.method == "PATCH") {
    verb = media_type(req.get_header_value("Content-Type")) == "application/apply-patch+yaml"
               ? "apply"
               : "patch";
  } else if (req.method == "DELETE") {
    verb = item ? "delete" : "deletecollection";
  } else {
    verb = req.method;
  }
  return {verb, m[1]};
}

// A namespace or name taken from the (percent-decoded) request path may not
// walk the path nor be decoded again, as Kubernetes' IsValidPathSegmentName.
Status check_path_segment(std::string_view field, const std::string& value) {
  std::string problem = value == "."                           ? "may not be '.'"
                        : value == ".."                        ? "may not be '..'"
                        : value.find('/') != std::string::npos ? "may not contain '/'"
                        : value.find('%') != std::string::npos ? "may not contain '%'"
                                                               : "";
  if (problem.empty()) return Status::Ok();
  return bad_request(std::string(field) + " \"" + value + "\" in the request path: " + problem);
}

// cpp-httplib answers 400 both to a request line it cannot parse and to a
// well-formed one whose method it serves no route for (TRACE, CONNECT) or
// does not know (BREW); the latter is 405, as in Kubernetes.
bool is_unserved_method(const Request& req) {
  static const std::set<std::string> kServed = {"GET",   "HEAD",   "POST",   "PUT",
                                                "PATCH", "DELETE", "OPTIONS"};
  const bool token = !req.method.empty() && req.method.size() <= 32 &&
                     std::all_of(req.method.begin(), req.method.end(),
                                 [](char c) { return c >= 'A' && c <= 'Z'; });
  return token && !kServed.count(req.method) && !req.target.empty() && req.target[0] == '/' &&
         (req.version == "HTTP/1.1" || req.version == "HTTP/1.0");
}

// When the request on this thread started (cpp-httplib serves each request
// on one thread from routing to logging).
thread_local std::chrono::steady_clock::time_point request_start;

}  // namespace

// --- the server -------------------------------------------------------------------

class ApiServer::Impl {
 public:
  Impl(ServerOptions options, store::Store& store, Clock& clock)
      : options_(std::move(options)), store_(store), clock_(clock) {
    strategies_.push_back(make_task_strategy(options_.runner_finalizer));
    strategies_.push_back(make_task_run_strategy());
    for (const auto& s : strategies_) {
      resources_.push_back(s.get());
      registries_.emplace(s->info().plural, std::make_unique<Registry>(store_, *s, clock_));
    }
    openapi_group_ = json_text(openapi_v3_group(resources_));
    openapi_index_ = json_text(openapi_v3_index(content_hash(openapi_group_)));
  }

  Registry* find_registry(std::string_view plural) {
    auto it = registries_.find(std::string(plural));
    return it == registries_.end() ? nullptr : it->second.get();
  }

  Status start() {
    if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
      auto tls = std::make_unique<httplib::SSLServer>(options_.tls_cert_file.c_str(),
                                                      options_.tls_key_file.c_str());
      if (!tls->is_valid()) {
        return Status(StatusCode::kInvalid, "cannot use the TLS certificate " +
                                                options_.tls_cert_file + " and key " +
                                                options_.tls_key_file);
      }
      server_ = std::move(tls);
    } else {
      server_ = std::make_unique<HandoffServer>(options_.max_connections);
      // Only plain-HTTP watches are handed off; TLS ones stay on their
      // connection threads. The write timeout is cpp-httplib's, which
      // threaded watches had.
      fanout_ = std::make_unique<WatchFanout>(
          store_, std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4),
          std::chrono::seconds(CPPHTTPLIB_WRITE_TIMEOUT_SECOND));
    }
    if (!options_.token_auth_file.empty()) {
      auto auth = TokenAuthenticator::load(options_.token_auth_file);
      if (!auth.ok()) return auth.status();
      authenticator_ = std::move(auth).value();
    }
    if (!options_.authorization_policy_file.empty()) {
      if (!authenticator_) {
        return Status(StatusCode::kInvalid, "an authorization policy needs --token-auth-file");
      }
      auto policy = PolicyAuthorizer::load(options_.authorization_policy_file);
      if (!policy.ok()) return policy.status();
      authorizer_ = std::move(policy).value();
    }
    // cpp-httplib listens with a backlog of 5, so a burst of connects (a
    // thousand watchers starting at once) overflows the accept queue and
    // the kernel drops SYNs, which clients retry only after 1, 3, 7, 15 s.
    // Capture the listening socket and raise its backlog after bind.
    // Not cpp-httplib's default options: they set SO_REUSEPORT, which lets a
    // second soltid bind the same port and silently share its connections.
    // SO_REUSEADDR alone still allows a quick restart past TIME_WAIT.
    server_->set_socket_options([this](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      listen_socket_ = sock;
    });
    // cpp-httplib's task queue: for TLS, a thread per connection; for plain
    // HTTP, HandoffServer's crew serves connections and the queue only
    // hands them over. A thread idle this long exits; one that served a
    // kept-alive client (kubectl, a controller) is usually reused within it.
    static constexpr std::chrono::seconds kIdleThreadTimeout{30};
    // One more for HandoffServer's supervisor, which holds its thread.
    const size_t threads = options_.max_connections + 1;
    server_->new_task_queue = [threads] { return new ConnectionPool(threads, kIdleThreadTimeout); };
    server_->set_payload_max_length(options_.max_body_bytes * kDrainedBodyFactor);
    server_->set_keep_alive_max_count(1000);
    // Responses go out as headers then body; with Nagle on, the body waits
    // for the ACK of the headers, which a delayed-ACK client (Go's: kubectl)
    // holds for 40 ms: every kubectl request took 40 ms longer.
    server_->set_tcp_nodelay(true);
    server_->set_read_timeout(std::chrono::seconds(30));
    server_->set_error_handler(
        httplib::Server::HandlerWithResponse([this](const Request& req, Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          if (res.status == 400 && is_unserved_method(req)) res.status = 405;
          StatusCode code = res.status == 413   ? StatusCode::kRequestEntityTooLarge
                            : res.status == 404 ? StatusCode::kNotFound
                            : res.status == 405 ? StatusCode::kMethodNotAllowed
                            : res.status >= 500 ? StatusCode::kInternal
                                                : StatusCode::kBadRequest;
          std::string message =
              res.status == 413   ? too_large(options_.max_body_bytes).message()
              : res.status == 404 ? "the server could not find the requested resource"
              : res.status == 405 ? "the server does not allow the method " + req.method
                                  : "the request could not be processed";
          reply_error(res, Status(code, message));
          return httplib::Server::HandlerResponse::Handled;
        }));
    server_->set_exception_handler([](const Request&, Response& res, std::exception_ptr error) {
      std::string what = "internal server error";
      try {
        if (error) std::rethrow_exception(error);
      } catch (const std::exception& e) {
        what += std::string(": ") + e.what();
      } catch (...) {
      }
      reply_error(res, Status(StatusCode::kInternal, what));
    });
    // Every request but /version and the health probes needs a known token.
    server_->set_pre_routing_handler([this](const Request& req, Response& res) {
      static const std::set<std::string> kPublic = {"/version", "/healthz", "/livez", "/readyz"};
      request_start = std::chrono::steady_clock::now();
      if (!authenticator_ || kPublic.count(req.path))
        return httplib::Server::HandlerResponse::Unhandled;
      if (!authenticator_->authenticate(req.get_header_value("Authorization"))) {
        reply_error(res, Status(StatusCode::kUnauthorized, "Unauthorized"));
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    server_->set_logger([this](const Request& req, const Response& res) {
      if (HandoffServer::replying_later()) return;  // observed when answered
      observe(classify(req), res.status, request_start);
    });
    routes();

    if (options_.port == 0) {
      port_ = server_->bind_to_any_port(options_.host);
      if (port_ < 0) return Status(StatusCode::kUnavailable, "cannot listen on " + options_.host);
    } else {
      if (!server_->bind_to_port(options_.host, options_.port)) {
        return Status(StatusCode::kUnavailable,
                      "cannot listen on " + options_.host + ":" + std::to_string(options_.port));
      }
      port_ = options_.port;
    }
    if (listen_socket_ >= 0) ::listen(listen_socket_, kListenBacklog);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    ready_ = true;
    return Status::Ok();
  }

  int port() const { return port_; }

  void stop() {
    ready_ = false;
    {
      std::lock_guard lock(watches_mu_);
      stopping_ = true;
      for (auto* w : watches_) w->cancel();
    }
    if (fanout_) fanout_->stop();
    if (server_) server_->stop();  // null when start() never ran or failed
    if (thread_.joinable()) thread_.join();
  }

 private:
  // --- routing -----------------------------------------------------------------

  void routes() {
    auto json = [](auto document) {
      return [document](const Request&, Response& res) { reply(res, 200, json_text(document)); };
    };
    server_->Get("/version", json(version_document(options_.version)));
    // A store that refuses writes only recovers by a restart, so it fails
    // liveness as well as readiness.
    for (const char* path : {"/healthz", "/livez", "/readyz"}) {
      const bool readiness = std::string_view(path) == "/readyz";
      server_->Get(path, [this, readiness](const Request&, Response& res) {
        if (readiness && !ready_) {
          return reply_error(res, Status(StatusCode::kUnavailable, "not ready"));
        }
        if (Status store = store_.health(); !store.ok()) {
          return reply_error(res, Status(StatusCode::kUnavailable, "store: " + store.message()));
        }
        reply(res, 200, "ok", "text/plain");
      });
    }
    server_->Get("/api", [](const Request&, Response& res) {
      reply_error(
          res, Status(StatusCode::kNotFound, "the server could not find the requested resource"));
    });
    server_->Get("/apis", [this](const Request& req, Response& res) {
      std::string version = aggregated_version(req);
      if (version.empty()) return reply(res, 200, json_text(api_group_list(resources_)));
      reply(res, 200, json_text(aggregated_discovery(resources_, version)),
            "application/json;g=apidiscovery.k8s.io;v=" + version + ";as=APIGroupDiscoveryList");
    });
    server_->Get("/metrics", [this](const Request& req, Response& res) {
      if (authorizer_) {
        auto user = authenticator_->authenticate(req.get_header_value("Authorization"));
        AccessRequest access{&*user, "get", "", "", "/metrics"};
        if (!authorizer_->allowed(access)) {
          return reply_error(res, Status(StatusCode::kForbidden, forbidden_message(access, "")));
        }
      }
      reply(res, 200, metrics_.render(store_), "text/plain; version=0.0.4; charset=utf-8");
    });
    server_->Get("/apis/solti.io", json(api_group(resources_)));
    server_->Get("/apis/solti.io/v1", json(api_resource_list(resources_)));
    server_->Get("/openapi/v3",
                 [this](const Request&, Response& res) { reply(res, 200, openapi_index_); });
    server_->Get("/openapi/v3/apis/solti.io/v1",
                 [this](const Request&, Response& res) { reply(res, 200, openapi_group_); });
    // An empty protobuf document: kubectl 1.27 needs /openapi/v2 to exist,
    // newer ones use v3 (KUBECTL-NOTES §2).
    server_->Get("/openapi/v2", [](const Request&, Response& res) {
      reply(res, 200, "", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
    });

    const std::string group = R"(/apis/solti\.io/v1)";
    // Requests that may carry a body get it from read_bounded_body; the
    // handlers then find it in req.body as usual.
    auto with_body = [this](const char* method, auto handler) {
      return [this, method, handler](const Request& req, Response& res,
                                     const httplib::ContentReader& read) {
        Request with_body = req;
        if (Status s = read_bounded_body(req, read, options_.max_body_bytes, with_body.body);
            !s.ok()) {
          // What is left of the body would read as the next request: the
          // client should close (cpp-httplib 0.11 keeps the connection open).
          res.set_header("Connection", "close");
          return reply_error(res, s);
        }
        handler(method, with_body, res);
      };
    };
    auto all_methods = [this, with_body](const std::string& pattern, auto handler) {
      server_->Get(pattern, [=](const Request& q, Response& r) { handler("GET", q, r); });
      server_->Post(pattern, with_body("POST", handler));
      server_->Put(pattern, with_body("PUT", handler));
      server_->Patch(pattern, with_body("PATCH", handler));
      // cpp-httplib routes a DELETE without Content-Length to plain handlers.
      server_->Delete(pattern, [=](const Request& q, Response& r) { handler("DELETE", q, r); });
      server_->Delete(pattern, with_body("DELETE", handler));
      server_->Options(pattern, [](const Request&, Response& r) { method_not_allowed(r); });
    };
    all_methods(group + "/([^/]+)",
                [this](const std::string& method, const Request& req, Response& res) {
                  collection(method, req, res, "", req.matches[1]);
                });
    all_methods(group + "/namespaces/([^/]+)/([^/]+)",
                [this](const std::string& method, const Request& req, Response& res) {
                  collection(method, req, res, req.matches[1], req.matches[2]);
                });
    all_methods(group + "/namespaces/([^/]+)/([^/]+)/([^/]+)",
                [this](const std::string& method, const Request& req, Response& res) {
                  item(method, req, res, req.matches[1], req.matches[2], req.matches[3], "");
                });
    all_methods(group + "/namespaces/([^/]+)/([^/]+)/([^/]+)/([^/]+)",
                [this](const std::string& method, const Request& req, Response& res) {
                  item(method, req, res, req.matches[1], req.matches[2], req.matches[3],
                       req.matches[4]);
                });
    // Any other path: answered without reading the body, which cpp-httplib
    // would otherwise read without a bound.
    auto not_found = [](const Request&, Response& res, const httplib::ContentReader&) {
      res.set_header("Connection", "close");
      reply_error(
          res, Status(StatusCode::kNotFound, "the server could not find the requested resource"));
    };
    server_->Post(".*", not_found);
    server_->Put(".*", not_found);
    server_->Patch(".*", not_found);
    server_->Delete(".*", not_found);
  }

  // True when the policy lets the request's user do `verb`; otherwise
  // replies 403 (authentication itself happened before routing).
  bool authorized(const Request& req, Response& res, const std::string& verb,
                  const ResourceInfo& info, const std::string& ns) {
    if (!authorizer_) return true;
    auto user = authenticator_->authenticate(req.get_header_value("Authorization"));
    AccessRequest access{&*user, verb, info.plural, ns, ""};
    if (authorizer_->allowed(access)) return true;
    reply_error(res, Status(StatusCode::kForbidden, forbidden_message(access, info.group)), &info);
    return false;
  }

  Registry* registry(const std::string& plural, Response& res) {
    auto it = registries_.find(plural);
    if (it == registries_.end()) {
      reply_error(
          res, Status(StatusCode::kNotFound, "the server could not find the requested resource"));
      return nullptr;
    }
    return it->second.get();
  }

  static void method_not_allowed(Response& res) {
    reply_error(res, Status(StatusCode::kMethodNotAllowed,
                            "the server does not allow this method on the requested resource"));
  }

  // --- collections -------------------------------------------------------------

  void collection(const std::string& method, const Request& req, Response& res,
                  const std::string& ns, const std::string& plural) {
    Registry* reg = registry(plural, res);
    if (!reg) return;
    const ResourceInfo& info = reg->info();
    if (!ns.empty()) {
      if (Status s = check_path_segment("metadata.namespace", ns); !s.ok())
        return reply_error(res, s, &info);
    }
    auto watch = bool_param(req, "watch");
    if (!watch.ok()) return reply_error(res, watch.status(), &info);
    const std::string verb = method == "GET"    ? (*watch ? "watch" : "list")
                             : method == "POST" ? "create"
                                                : "deletecollection";
    if (!authorized(req, res, verb, info, ns)) return;
    if (method == "GET") {
      return *watch ? serve_watch(req, res, *reg, ns) : serve_list(req, res, *reg, ns);
    }
    if (ns.empty() || !info.user_writable) return method_not_allowed(res);
    if (method == "POST") return serve_create(req, res, *reg, ns);
    if (method == "DELETE") return serve_delete_collection(req, res, *reg, ns);
    method_not_allowed(res);
  }

  void serve_list(const Request& req, Response& res, Registry& reg, const std::string& ns) {
    const ResourceInfo& info = reg.info();
    auto query = list_query(req, reg, false);
    if (!query.ok()) return reply_error(res, query.status(), &info);
    auto page = reg.list(ns, *query);
    if (!page.ok()) return reply_error(res, page.status(), &info);
    if (wants_table(req))
      return reply(
          res, 200,
          json_text(table(req, reg, page->items, page->resource_version, page->continue_token)));

    std::string body = R"({"kind":")" + info.list_kind() + R"(","apiVersion":")" +
                       info.api_version() + R"(","metadata":{"resourceVersion":")" +
                       page->resource_version + "\"";
    if (!page->continue_token.empty()) body += R"(,"continue":")" + page->continue_token + "\"";
    body += R"(},"items":[)";
    for (size_t i = 0; i < page->items.size(); ++i) {
      if (i) body += ',';
      body += *page->items[i];
    }
    body += "]}";
    reply(res, 200, body);
  }

  Json table(const Request& req, Registry& reg, const std::vector<RawObject>& items,
             const std::string& resource_version, const std::string& continue_token) {
    const std::string include =
        req.has_param("includeObject") ? req.get_param_value("includeObject") : "Metadata";
    Json rows = Json::array();
    const Timestamp now = clock_.now();
    for (const auto& item : items) {
      Json object = Json::parse(*item, nullptr, false);
      Json row = {{"cells", reg.strategy().table_cells(object, now)}};
      if (include == "Object") {
        row["object"] = object;
      } else if (include != "None") {
        row["object"] = {{"kind", "PartialObjectMetadata"},
                         {"apiVersion", "meta.k8s.io/v1"},
                         {"metadata", object.value("metadata", Json::object())}};
      }
      rows.push_back(std::move(row));
    }
    Json meta = {{"resourceVersion", resource_version}};
    if (!continue_token.empty()) meta["continue"] = continue_token;
    return {{"kind", "Table"},
            {"apiVersion", "meta.k8s.io/v1"},
            {"metadata", meta},
            {"columnDefinitions", reg.strategy().table_columns()},
            {"rows", rows}};
  }

  void observe(const std::pair<std::string, std::string>& verb_and_resource, int status,
               std::chrono::steady_clock::time_point start) {
    metrics_.observe_request(verb_and_resource.first, verb_and_resource.second, status,
                             std::chrono::steady_clock::now() - start);
  }

  void serve_create(const Request& req, Response& res, Registry& reg, const std::string& ns) {
    const ResourceInfo& info = reg.info();
    auto kind = body_kind(req, false);
    if (!kind.ok()) return reply_error(res, kind.status(), &info);
    auto body = read_body(req, *kind);
    if (!body.ok()) return reply_error(res, body.status(), &info);
    auto options = write_options(req);
    if (!options.ok()) return reply_error(res, options.status(), &info);
    const std::string name = metadata_name(*body);
    options->field_manager = default_manager(req, options->field_manager);
    auto answer = [&info, name](Response& res, Result<WriteResult> created) {
      if (!created.ok()) return reply_error(res, created.status(), &info, name);
      add_warnings(res, created->warnings);
      reply(res, 201, *created->object);
    };
    auto later = HandoffServer::reply_later(req);
    if (!later) return answer(res, reg.create(ns, std::move(body).value(), *options));
    // No thread waits for the fsync: the store's committing thread answers.
    reg.create(ns, std::move(body).value(), *options,
               [this, later, answer, what = classify(req),
                start = request_start](Result<WriteResult> created) {
                 Response res;
                 answer(res, std::move(created));
                 // Before sending: once the client has its answer the server may stop.
                 observe(what, res.status, start);
                 later->send(res);
               });
  }

  void serve_delete_collection(const Request& req, Response& res, Registry& reg,
                               const std::string& ns) {
    const ResourceInfo& info = reg.info();
    auto query = list_query(req, reg, false);
    if (!query.ok()) return reply_error(res, query.status(), &info);
    auto options = write_options(req);
    if (!options.ok()) return reply_error(res, options.status(), &info);
    auto removed = reg.remove_collection(ns, *query, options->dry_run);
    if (!removed.ok()) return reply_error(res, removed.status(), &info);
    reply(res, 200,
          json_text(Json{{"kind", "Status"},
                         {"apiVersion", "v1"},
                         {"metadata", Json::object()},
                         {"status", "Success"},
                         {"details", {{"group", info.group}, {"kind", info.plural}}},
                         {"message", std::to_string(*removed) + " deleted"}}));
  }

  // --- single objects ----------------------------------------------------------

  void item(const std::string& method, const Request& req, Response& res, const std::string& ns,
            const std::string& plural, const std::string& name, const std::string& sub) {
    Registry* reg = registry(plural, res);
    if (!reg) return;
    const ResourceInfo& info = reg->info();
    for (auto [field, value] :
         {std::pair<std::string_view, const std::string&>{"metadata.namespace", ns},
          {"metadata.name", name}}) {
      if (Status s = check_path_segment(field, value); !s.ok()) return reply_error(res, s, &info);
    }
    if ((sub == "status" && !info.has_status) || (sub == "log" && !info.has_log) ||
        (!sub.empty() && sub != "status" && sub != "log")) {
      return reply_error(
          res, Status(StatusCode::kNotFound, "the server could not find the requested resource"));
    }
    const std::string verb = method == "GET"     ? "get"
                             : method == "PUT"   ? "update"
                             : method == "PATCH" ? "patch"
                                                 : "delete";
    if (!authorized(req, res, verb, info, ns)) return;
    if (sub == "log") {
      if (method != "GET") return method_not_allowed(res);
      return serve_log(req, res, *reg, ns, name);
    }
    if (method == "GET") {
      auto object = reg->get(ns, name);
      if (!object.ok()) return reply_error(res, object.status(), &info, name);
      if (wants_table(req)) {
        return reply(
            res, 200,
            json_text(table(req, *reg, {std::make_shared<const std::string>(json_text(*object))},
                            (*object)["metadata"].value("resourceVersion", std::string()), "")));
      }
      return reply(res, 200, json_text(*object));
    }
    if (!info.user_writable) return method_not_allowed(res);
    const Subresource subresource = sub == "status" ? Subresource::kStatus : Subresource::kMain;
    if (method == "PUT") return serve_update(req, res, *reg, ns, name, subresource);
    if (method == "PATCH") return serve_patch(req, res, *reg, ns, name, subresource);
    if (method == "DELETE" && subresource == Subresource::kMain)
      return serve_delete(req, res, *reg, ns, name);
    method_not_allowed(res);
  }

  void serve_update(const Request& req, Response& res, Registry& reg, const std::string& ns,
                    const std::string& name, Subresource subresource) {
    const ResourceInfo& info = reg.info();
    auto kind = body_kind(req, false);
    if (!kind.ok()) return reply_error(res, kind.status(), &info, name);
    auto body = read_body(req, *kind);
    if (!body.ok()) return reply_error(res, body.status(), &info, name);
    auto options = write_options(req);
    if (!options.ok()) return reply_error(res, options.status(), &info, name);
    options->field_manager = default_manager(req, options->field_manager);
    auto updated = reg.update(ns, name, std::move(body).value(), subresource, *options);
    if (!updated.ok()) return reply_error(res, updated.status(), &info, name);
    add_warnings(res, updated->warnings);
    reply(res, 200, *updated->object);
  }

  void serve_patch(const Request& req, Response& res, Registry& reg, const std::string& ns,
                   const std::string& name, Subresource subresource) {
    const ResourceInfo& info = reg.info();
    auto kind = body_kind(req, true);
    if (!kind.ok()) return reply_error(res, kind.status(), &info, name);
    const bool apply = *kind == BodyKind::kApplyPatch;
    if (!apply && req.has_param("force")) {
      return reply_error(res, bad_request("force is only valid with application/apply-patch+yaml"),
                         &info, name);
    }
    auto body = read_body(req, *kind);
    if (!body.ok()) return reply_error(res, body.status(), &info, name);
    auto options = write_options(req);
    if (!options.ok()) return reply_error(res, options.status(), &info, name);
    auto force = bool_param(req, "force");
    if (!force.ok()) return reply_error(res, force.status(), &info, name);
    if (!apply) options->field_manager = default_manager(req, options->field_manager);
    auto patched =
        apply ? reg.apply(ns, name, *body, subresource, *options, *force)
              : reg.patch(ns, name,
                          *kind == BodyKind::kJsonPatch ? PatchType::kJson : PatchType::kMerge,
                          *body, subresource, *options);
    if (!patched.ok()) return reply_error(res, patched.status(), &info, name);
    add_warnings(res, patched->warnings);
    reply(res, patched->created ? 201 : 200, *patched->object);
  }

  void serve_delete(const Request& req, Response& res, Registry& reg, const std::string& ns,
                    const std::string& name) {
    const ResourceInfo& info = reg.info();
    DeleteOptions options;
    if (!req.body.empty()) {
      auto body =
          parse_body(req, media_type(req.get_header_value("Content-Type")) == "application/yaml");
      if (!body.ok()) return reply_error(res, body.status(), &info, name);
      if (!body->is_object())
        return reply_error(res, bad_request("DeleteOptions must be an object"), &info, name);
      const Json& pre = body->value("preconditions", Json::object());
      if (pre.is_object()) {
        if (pre.contains("uid") && pre["uid"].is_string())
          options.uid = pre["uid"].get<std::string>();
        if (pre.contains("resourceVersion") && pre["resourceVersion"].is_string())
          options.resource_version = pre["resourceVersion"].get<std::string>();
      }
      const Json& dry = body->value("dryRun", Json::array());
      if (dry.is_array() && !dry.empty()) options.dry_run = true;
    }
    auto write = write_options(req);
    if (!write.ok()) return reply_error(res, write.status(), &info, name);
    options.dry_run = options.dry_run || write->dry_run;
    auto removed = reg.remove(ns, name, options);
    if (!removed.ok()) return reply_error(res, removed.status(), &info, name);
    reply(res, 200, json_text(*removed));
  }

  // --- logs --------------------------------------------------------------------

  // The attempt's log as text; with follow, streamed until the attempt ends.
  void serve_log(const Request& req, Response& res, Registry& reg, const std::string& ns,
                 const std::string& name) {
    const ResourceInfo& info = reg.info();
    auto follow = bool_param(req, "follow");
    auto attempt = int_param(req, "attempt");
    auto tail_lines = int_param(req, "tailLines");
    for (const Status& s : {follow.status(), attempt.status(), tail_lines.status()}) {
      if (!s.ok()) return reply_error(res, s, &info);
    }
    if (options_.logs_dir.empty()) {
      return reply_error(res, Status(StatusCode::kNotFound, "this server keeps no logs"), &info);
    }
    auto object = reg.get(ns, name);
    if (!object.ok()) return reply_error(res, object.status(), &info, name);
    auto ref = reg.strategy().log_ref(*object, *attempt);
    if (!ref.ok()) return reply_error(res, ref.status(), &info, name);
    const std::string path = options_.logs_dir + "/" + ref->path;
    const uint64_t start = req.has_param("tailLines") ? tail_offset(path, *tail_lines) : 0;
    constexpr std::string_view kText = "text/plain; charset=utf-8";
    if (!*follow || !ref->live) {
      return reply(res, 200, read_log(path, start, std::numeric_limits<size_t>::max()), kText);
    }
    // Still growing: stream what is there, then poll for more until the
    // object says the attempt is over (its log is complete by then).
    auto offset = std::make_shared<uint64_t>(start);
    const int64_t pinned = *attempt;
    const std::string pinned_path = ref->path;
    res.status = 200;
    res.set_chunked_content_provider(std::string(kText), [this, &reg, ns, name, pinned, pinned_path,
                                                          path,
                                                          offset](size_t, httplib::DataSink& sink) {
      auto send = [&](const std::string& data) {
        *offset += data.size();
        return data.empty() || sink.write(data.data(), data.size());
      };
      if (!sink.is_writable()) return false;
      if (std::string data = read_log(path, *offset, 64 * 1024); !data.empty()) return send(data);
      auto now = reg.get(ns, name);
      auto current = now.ok() ? reg.strategy().log_ref(*now, pinned) : Result<LogRef>(now.status());
      const bool live = current.ok() && current->path == pinned_path && current->live;
      if (!live || shutting_down()) {
        if (!send(read_log(path, *offset, std::numeric_limits<size_t>::max()))) return false;
        sink.done();
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      return true;
    });
  }

  bool shutting_down() {
    std::lock_guard lock(watches_mu_);
    return stopping_;
  }

  // --- watch -------------------------------------------------------------------

  // One watch response: the stream's events as watch lines, bookmarks, and
  // the end (the deadline, a 410, the stream closing). Registered with the
  // server while it lives, so that stop() can end it.
  class WatchResponse final : public WatchSource {
   public:
    WatchResponse(Impl& server, Registry& reg, std::unique_ptr<WatchStream> stream,
                  std::optional<Status> error)
        : server_(server), reg_(reg), stream_(std::move(stream)), error_(std::move(error)) {}

    ~WatchResponse() override {
      if (!registered_) return;
      stream_->cancel();
      server_.unregister_watch(stream_.get());
    }

    // kUnavailable when the server is shutting down, kTooManyRequests
    // when it has as many watches open as it takes.
    Status start(std::chrono::seconds lifetime, bool bookmarks, bool table) {
      const auto now = std::chrono::steady_clock::now();
      deadline_ = now + lifetime;
      next_bookmark_ = now + server_.options_.bookmark_interval;
      bookmarks_ = bookmarks;
      table_ = table;
      if (!stream_) return Status::Ok();
      Status registered = server_.register_watch(stream_.get());
      registered_ = registered.ok();
      return registered;
    }

    Chunk next(std::chrono::steady_clock::time_point wait_until) override {
      if (error_) return last_chunk(*error_);
      if (std::chrono::steady_clock::now() >= deadline_) return last_chunk(Status::Ok());
      auto events = stream_->next(std::min(wait_until, wake_time()));
      // A 410 is told to the client (it re-lists); a closing stream just ends.
      if (!events.ok()) {
        return last_chunk(events.status().code() == StatusCode::kExpired ? events.status()
                                                                         : Status::Ok());
      }
      Chunk chunk;
      for (const auto& e : *events) {
        const std::string& object = *e.object;
        append_event_line(chunk.text, e.type,
                          table_ && e.type != "BOOKMARK" ? json_text(table_row(object)) : object);
      }
      if (bookmarks_ && std::chrono::steady_clock::now() >= next_bookmark_) {
        Json bookmark = {{"kind", reg_.info().kind},
                         {"apiVersion", reg_.info().api_version()},
                         {"metadata", {{"resourceVersion", stream_->resource_version()}}}};
        append_event_line(chunk.text, "BOOKMARK", json_text(bookmark));
        next_bookmark_ = std::chrono::steady_clock::now() + server_.options_.bookmark_interval;
      }
      return chunk;
    }

    std::chrono::steady_clock::time_point wake_time() const override {
      return bookmarks_ ? std::min(deadline_, next_bookmark_) : deadline_;
    }

   private:
    // The end of the response, after an ERROR event when `error` is one.
    static Chunk last_chunk(const Status& error) {
      Chunk chunk;
      if (!error.ok()) {
        append_event_line(chunk.text, "ERROR", json_text(status_document(error, nullptr, "")));
      }
      chunk.last = true;
      return chunk;
    }

    static void append_event_line(std::string& out, const std::string& type,
                                  const std::string& object) {
      out.append(R"({"type":")").append(type).append(R"(","object":)").append(object).append("}\n");
    }

    Json table_row(const std::string& object_text) {
      Json object = Json::parse(object_text, nullptr, false);
      Json row = {{"cells", reg_.strategy().table_cells(object, server_.clock_.now())},
                  {"object",
                   {{"kind", "PartialObjectMetadata"},
                    {"apiVersion", "meta.k8s.io/v1"},
                    {"metadata", object.value("metadata", Json::object())}}}};
      Json table = {
          {"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata",
           {{"resourceVersion", object["metadata"].value("resourceVersion", std::string())}}},
          {"rows", Json::array({row})}};
      if (!sent_columns_) {
        table["columnDefinitions"] = reg_.strategy().table_columns();
        sent_columns_ = true;
      }
      return table;
    }

    Impl& server_;
    Registry& reg_;
    std::unique_ptr<WatchStream> stream_;
    std::optional<Status> error_;  // sent as an ERROR event, then the response ends
    bool registered_ = false;
    std::chrono::steady_clock::time_point deadline_;
    std::chrono::steady_clock::time_point next_bookmark_;
    bool bookmarks_ = false;
    bool table_ = false;
    bool sent_columns_ = false;
  };

  void serve_watch(const Request& req, Response& res, Registry& reg, const std::string& ns) {
    const ResourceInfo& info = reg.info();
    auto query = list_query(req, reg, true);
    if (!query.ok()) return reply_error(res, query.status(), &info);
    auto bookmarks = bool_param(req, "allowWatchBookmarks");
    auto initial = bool_param(req, "sendInitialEvents");
    auto timeout = int_param(req, "timeoutSeconds");
    for (const Status& s : {bookmarks.status(), initial.status(), timeout.status()}) {
      if (!s.ok()) return reply_error(res, s, &info);
    }
    WatchQuery watch_query{query->labels, query->fields, req.get_param_value("resourceVersion"),
                           *initial};

    auto stream = reg.watch(ns, watch_query);
    if (!stream.ok() && stream.status().code() != StatusCode::kExpired)
      return reply_error(res, stream.status(), &info);
    auto response =
        stream.ok()
            ? std::make_shared<WatchResponse>(*this, reg, std::move(stream).value(), std::nullopt)
            : std::make_shared<WatchResponse>(*this, reg, nullptr, stream.status());
    // Any timeoutSeconds goes, as in Kubernetes; capped at a year so that
    // the deadline stays within the clock's range.
    constexpr int64_t kMaxWatchSeconds = 366 * 24 * 3600;
    std::chrono::seconds lifetime = *timeout > 0
                                        ? std::chrono::seconds(std::min(*timeout, kMaxWatchSeconds))
                                        : random_watch_timeout();
    if (Status started = response->start(lifetime, *bookmarks, wants_table(req)); !started.ok()) {
      if (started.code() == StatusCode::kTooManyRequests) res.set_header("Retry-After", "1");
      return reply_error(res, started, &info);
    }

    res.status = 200;
    // cpp-httplib gzips "application/json" for clients that accept it, and a
    // gzip stream holds events back; this spelling is not compressed.
    res.set_chunked_content_provider(
        "application/json; charset=utf-8", [this, response](size_t, httplib::DataSink& sink) {
          // Plain HTTP: the fanout's loops serve the watch from here on.
          if (int socket = HandoffServer::take_connection(); socket >= 0) {
            fanout_->serve(socket, response);
            return false;
          }
          return pump(*response, sink);
        });
  }

  // A TLS watch, served on its connection's thread: writes what the watch
  // has; false ends the connection.
  static bool pump(WatchSource& source, httplib::DataSink& sink) {
    while (true) {
      if (!sink.is_writable()) return false;
      const auto now = std::chrono::steady_clock::now();
      auto chunk = source.next(std::min(source.wake_time(), now + std::chrono::seconds(1)));
      if (!chunk.text.empty() && !sink.write(chunk.text.data(), chunk.text.size())) return false;
      if (chunk.last) {
        sink.done();
        return true;
      }
      if (!chunk.text.empty()) return true;
    }
  }

  std::chrono::seconds random_watch_timeout() {
    // Spread reconnects: between the default and twice it, as the apiserver does.
    thread_local std::mt19937 engine(std::random_device{}());
    const int64_t base = options_.default_watch_timeout.count();
    return std::chrono::seconds(base + int64_t(engine() % uint32_t(std::max<int64_t>(base, 1))));
  }

  // Open watches are bounded like connections: a plain-HTTP watch leaves
  // the connection pool for the fanout, and each holds a socket.
  Status register_watch(WatchStream* w) {
    std::lock_guard lock(watches_mu_);
    if (stopping_) return Status(StatusCode::kUnavailable, "the server is shutting down");
    if (watches_.size() >= options_.max_connections) {
      return Status(StatusCode::kTooManyRequests, "too many open watches (" +
                                                      std::to_string(watches_.size()) +
                                                      ", --max-connections); try again later");
    }
    watches_.insert(w);
    metrics_.set_watchers(watches_.size());
    return Status::Ok();
  }
  void unregister_watch(WatchStream* w) {
    std::lock_guard lock(watches_mu_);
    watches_.erase(w);
    metrics_.set_watchers(watches_.size());
  }

  const ServerOptions options_;
  store::Store& store_;
  Clock& clock_;
  std::vector<std::unique_ptr<Strategy>> strategies_;
  std::vector<const Strategy*> resources_;
  std::map<std::string, std::unique_ptr<Registry>> registries_;
  std::string openapi_group_;
  std::string openapi_index_;

  Metrics metrics_;
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<WatchFanout> fanout_;  // plain-HTTP watches; null with TLS
  socket_t listen_socket_ = -1;
  std::optional<TokenAuthenticator> authenticator_;
  std::optional<PolicyAuthorizer> authorizer_;
  std::thread thread_;
  int port_ = -1;
  std::atomic<bool> ready_{false};
  std::mutex watches_mu_;
  std::set<WatchStream*> watches_;
  bool stopping_ = false;
};

ApiServer::ApiServer(ServerOptions options, store::Store& store, Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(options), store, clock)) {}

ApiServer::~ApiServer() { stop(); }

Status ApiServer::start() { return impl_->start(); }
int ApiServer::port() const { return impl_->port(); }
Registry* ApiServer::registry(std::string_view plural) { return impl_->find_registry(plural); }
void ApiServer::stop() { impl_->stop(); }

}  // namespace solti::api
