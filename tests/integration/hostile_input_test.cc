// The hostile-input matrix (issue "Reliability and security"): malformed,
// oversized, deceptive and slow requests sent as raw bytes over TCP to a real
// soltid. Each must get its documented status quickly, with a Status whose
// message names the offending field; the server must stay up, its memory
// bounded, and nothing stored may change.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tests/integration/soltid_process.h"
#include "tests/raw_socket.h"

namespace solti {
namespace {

using SteadyClock = std::chrono::steady_clock;
using testing::connect_to;
using testing::SoltidProcess;

constexpr const char* kTasks = "/apis/solti.io/v1/namespaces/default/tasks";
// "Quickly": a case without a reply within this is a failure.
constexpr auto kReplyTimeout = std::chrono::seconds(10);
// The server's read timeout (apiserver/server.cc): how long a silent client may hold a connection.
constexpr auto kServerReadTimeout = std::chrono::seconds(30);
constexpr size_t kBodyLimit = 4 * 1024 * 1024;

// --- raw HTTP over TCP ----------------------------------------------------------------

struct RawReply {
  bool answered = false;  // a status line and headers arrived
  int status = 0;
  std::string head;  // status line and headers
  std::string body;  // de-chunked
};

std::string lowercase(std::string text) {
  for (auto& c : text) c = char(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Reads what has arrived into `reply`; true once it is complete: the whole
// body, or only the headers when `headers_only` (a watch that stays open).
bool parse_reply(const std::string& in, bool headers_only, bool closed, RawReply& reply) {
  const size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos || in.compare(0, 7, "HTTP/1.") != 0) return false;
  reply.answered = true;
  reply.head = in.substr(0, head_end);
  reply.status = std::atoi(in.c_str() + 9);
  if (headers_only) return true;
  const std::string head = lowercase(reply.head);
  std::string_view rest = std::string_view(in).substr(head_end + 4);
  if (head.find("transfer-encoding: chunked") != std::string::npos) {
    reply.body.clear();
    while (true) {
      const size_t line_end = rest.find("\r\n");
      if (line_end == std::string_view::npos) return closed;
      const size_t size = std::strtoul(std::string(rest.substr(0, line_end)).c_str(), nullptr, 16);
      if (size == 0) return true;
      if (rest.size() < line_end + 2 + size + 2) return closed;
      reply.body.append(rest.substr(line_end + 2, size));
      rest.remove_prefix(line_end + 2 + size + 2);
    }
  }
  const size_t length_at = head.find("content-length: ");
  if (length_at == std::string::npos) {
    reply.body = rest;
    return closed;
  }
  const size_t length = std::strtoul(head.c_str() + length_at + 16, nullptr, 10);
  reply.body = rest.substr(0, length);
  return rest.size() >= length || closed;
}

// Sends `request` while reading the reply, as a server may answer before it
// has read all of a body it refuses. Gives up at `timeout`.
RawReply exchange(int port, const std::string& request, bool headers_only,
                  std::chrono::milliseconds timeout = kReplyTimeout) {
  RawReply reply;
  const int fd = connect_to(port);
  if (fd < 0) return reply;
  fcntl(fd, F_SETFL, O_NONBLOCK);
  const auto deadline = SteadyClock::now() + timeout;
  size_t sent = 0;
  std::string in;
  bool closed = false;
  while (!parse_reply(in, headers_only, closed, reply) && !closed) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, short(POLLIN | (sent < request.size() ? POLLOUT : 0)), 0};
    if (poll(&p, 1, int(left.count())) <= 0) continue;
    if ((p.revents & POLLOUT) && sent < request.size()) {
      const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      // The server stopped reading a body it refused: its reply says why.
      if (n < 0 && errno != EAGAIN) sent = request.size();
      if (n > 0) sent += size_t(n);
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[64 * 1024];
      const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n > 0) in.append(buffer, size_t(n));
      if (n == 0 || (n < 0 && errno != EAGAIN)) closed = true;
    }
  }
  close(fd);
  return reply;
}

// --- requests -----------------------------------------------------------------------------

// Every request asks the server to close the connection after its reply.
std::string http(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::string& content_type = "application/json",
                 const std::string& extra_headers = "") {
  std::string head =
      method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!content_type.empty()) head += "Content-Type: " + content_type + "\r\n";
  if (method != "GET") head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return head + extra_headers + "\r\n" + body;
}

std::string get(const std::string& target) { return http("GET", target, "", ""); }

// A body sent in chunks of 64 KiB, without Content-Length.
std::string chunked(const std::string& target, const std::string& body,
                    const std::string& last_chunk = "0\r\n\r\n") {
  std::string request = "POST " + std::string(target) +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  constexpr size_t kChunk = 64 * 1024;
  char size[32];
  for (size_t at = 0; at < body.size(); at += kChunk) {
    const size_t n = std::min(kChunk, body.size() - at);
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    request += size + body.substr(at, n) + "\r\n";
  }
  return request + last_chunk;
}

Json task(const std::string& name) {
  return {{"apiVersion", "solti.io/v1"},
          {"kind", "Task"},
          {"metadata", {{"name", name}, {"labels", {{"app", "demo"}}}}},
          {"spec",
           {{"timeout", "10s"}, {"suspend", true}, {"subprocess", {{"command", "/bin/true"}}}}}};
}

// A Task named "x" changed by `change`.
Json task_with(const std::function<void(Json&)>& change) {
  Json t = task("x");
  change(t);
  return t;
}

std::string create(const Json& object, const std::string& query = "") {
  return http("POST", kTasks + query, object.dump());
}

// A Task's JSON text with "MARK" replaced by raw bytes JSON cannot encode.
std::string create_spliced(const std::function<void(Json&)>& mark, const std::string& bytes) {
  std::string text = task_with(mark).dump();
  text.replace(text.find("MARK"), 4, bytes);
  return http("POST", kTasks, text);
}

std::string task_yaml(const std::string& metadata_extra = "", const std::string& spec_extra = "") {
  return "apiVersion: solti.io/v1\nkind: Task\nmetadata:\n  name: y\n" + metadata_extra +
         "spec:\n  timeout: 10s\n  suspend: true\n  subprocess:\n    command: /bin/true\n" +
         spec_extra;
}

std::string create_yaml(const std::string& yaml) {
  return http("POST", kTasks, yaml, "application/yaml");
}

std::string patch(const std::string& name, const std::string& body, const std::string& type,
                  const std::string& query = "") {
  return http("PATCH", std::string(kTasks) + "/" + name + query, body, type);
}

// YAML "billion laughs": nine levels of nine aliases each, 9^9 strings.
std::string alias_bomb() {
  std::string yaml = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level <= 9; ++level) {
    const std::string prev = "*l" + std::to_string(level - 1);
    yaml += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
    for (int i = 0; i < 9; ++i) yaml += (i ? ", " : "") + prev;
    yaml += "]\n";
  }
  return yaml;
}

// "[0,0,...]": the most YAML tokens for the bytes.
std::string tiny_items_yaml(size_t items) {
  std::string yaml = "[";
  for (size_t i = 0; i < items; ++i) yaml += "0,";
  return yaml + "0]";
}

std::string nested_yaml_mappings(int depth) {
  std::string yaml;
  for (int i = 0; i < depth; ++i) yaml += std::string(size_t(2 * i), ' ') + "a:\n";
  return yaml + std::string(size_t(2 * depth), ' ') + "b: 1\n";
}

std::string base64url(const std::string& in) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    for (bits += 8; bits >= 6; bits -= 6) out += kAlphabet[(acc >> (bits - 6)) & 63];
  }
  if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
  return out;
}

// --- the matrix ---------------------------------------------------------------------------

struct HostileCase {
  std::string name;
  std::string request;  // raw bytes
  int status = 0;
  // The Status reason and a part of its message. Without a reason the reply
  // is not a Status, and `message` is looked for in its headers instead.
  std::string reason;
  std::string message;
  bool stream = false;  // a watch that stays open: only its headers are awaited
};

HostileCase rejects(std::string name, std::string request, int status, std::string reason,
                    std::string message) {
  HostileCase c;
  c.name = std::move(name);
  c.request = std::move(request);
  c.status = status;
  c.reason = std::move(reason);
  c.message = std::move(message);
  return c;
}

// Accepted without storing anything (a dry run, a watch): `header` is part of the reply's headers.
HostileCase accepts(std::string name, std::string request, int status, std::string header,
                    bool stream = false) {
  HostileCase c = rejects(std::move(name), std::move(request), status, "", std::move(header));
  c.stream = stream;
  return c;
}

HostileCase bad_request(std::string name, std::string request, std::string message) {
  return rejects(std::move(name), std::move(request), 400, "BadRequest", std::move(message));
}

HostileCase invalid(std::string name, std::string request, std::string field) {
  return rejects(std::move(name), std::move(request), 422, "Invalid", std::move(field));
}

HostileCase not_found(std::string name, std::string request, std::string message = "") {
  return rejects(std::move(name), std::move(request), 404, "NotFound",
                 message.empty() ? "could not find the requested resource" : std::move(message));
}

HostileCase not_allowed(std::string name, std::string request) {
  return rejects(std::move(name), std::move(request), 405, "MethodNotAllowed", "method");
}

// `other_list_token`: a real continue token of another list.
std::vector<HostileCase> hostile_cases(const std::string& other_list_token) {
  const std::string tasks = kTasks;
  const std::string all_tasks = "/apis/solti.io/v1/tasks";
  const std::string valid = task("x").dump();
  const std::string merge = "application/merge-patch+json";
  const std::string json_patch = "application/json-patch+json";
  const std::string apply = "application/apply-patch+yaml";
  std::string deep_json;
  for (int i = 0; i < 200000; ++i) deep_json += R"({"a":)";
  deep_json += "1" + std::string(200000, '}');
  const std::string forged_token = base64url(
      R"({"v":1,"rv":3,"snap":424242,"prefix":")" + base64url("/solti.io/tasks/default/") +
      R"(","start":")" + base64url("/solti.io/tasks/../../etc") + R"("})");

  return {
      // Malformed JSON and YAML.
      bad_request("truncated JSON", http("POST", tasks, valid.substr(0, valid.size() / 2)),
                  "couldn't decode the JSON body"),
      bad_request("JSON with trailing garbage", http("POST", tasks, valid + "}garbage"),
                  "couldn't decode the JSON body"),
      bad_request("a JSON number beyond a double",
                  http("POST", tasks,
                       R"({"apiVersion":"solti.io/v1","kind":"Task","metadata":{"name":"n"},)"
                       R"("spec":{"maxRetries":1e999}})"),
                  "couldn't decode the JSON body"),
      bad_request("merge patch with a number beyond a double",
                  patch("seed-a", R"({"spec":{"maxRetries":-1e999}})", merge),
                  "couldn't decode the JSON body"),
      bad_request("empty body", http("POST", tasks, ""), "the request body is empty"),
      bad_request("JSON array instead of an object", http("POST", tasks, "[1,2]"),
                  "must be an object"),
      bad_request("JSON null", http("POST", tasks, "null"), "must be an object"),
      bad_request("unclosed YAML flow sequence", create_yaml("metadata: [unclosed\n"),
                  "couldn't decode the YAML body: line 2, column 1"),
      bad_request("YAML scalar document", create_yaml("just a string\n"), "must be an object"),
      bad_request("YAML alias bomb", create_yaml(alias_bomb()), "too many alias references"),
      bad_request("two YAML documents", create_yaml(task_yaml() + "---\n" + task_yaml()),
                  "exactly one document"),
      bad_request("duplicate YAML key", create_yaml(task_yaml() + "kind: Task\n"),
                  "duplicate key \"kind\""),
      bad_request("YAML mapping key that is a sequence", create_yaml("? [a, b]\n: c\n"),
                  "mapping keys must be strings"),
      bad_request("JSON objects nested 200,000 deep", http("POST", tasks, deep_json),
                  "nested deeper than 100 levels"),
      bad_request("JSON arrays nested 1,000,000 deep",
                  http("POST", tasks, std::string(1000000, '[') + std::string(1000000, ']')),
                  "nested deeper than 100 levels"),
      bad_request("YAML flow sequences nested 100,000 deep",
                  create_yaml(std::string(100000, '[') + std::string(100000, ']')), "YAML"),
      bad_request("YAML block mappings nested 150 deep", create_yaml(nested_yaml_mappings(150)),
                  "nested deeper than 100 levels"),
      bad_request("YAML flow sequences nested 2,000,000 deep (4 MB)",
                  create_yaml(std::string(2000000, '[') + std::string(2000000, ']')),
                  "line 1, column 101: nested deeper than 100 levels"),
      bad_request("YAML list of 2,000,000 items (4 MB)", create_yaml(tiny_items_yaml(2000000)),
                  "more than 50000 nodes"),
      // Lines yaml-cpp reads as nodes although they follow a block scalar.
      bad_request("YAML list of 2,000,000 items after a block scalar",
                  create_yaml("- a: |\n    text\n  b: " + tiny_items_yaml(2000000) + "\n"),
                  "more than 50000 nodes"),
      bad_request("apply patch of 2,000,000 YAML items",
                  patch("seed-a", tiny_items_yaml(2000000), apply, "?fieldManager=ci"),
                  "more than 50000 nodes"),
      bad_request("merge patch nested 200,000 deep", patch("seed-a", deep_json, merge),
                  "nested deeper than 100 levels"),

      // Sizes and framing.
      rejects("10 MB string in spec.subprocess.command", create(task_with([](Json& t) {
                t["spec"]["subprocess"]["command"] = std::string(10 << 20, 'x');
              })),
              413, "RequestEntityTooLarge", "too large"),
      rejects("5 MB body with Content-Length", http("POST", tasks, std::string(5 << 20, ' ')), 413,
              "RequestEntityTooLarge", "too large"),
      rejects(
          "Content-Length of 100 GB and no body",
          "POST " + tasks +
              " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100000000000\r\n\r\n",
          413, "RequestEntityTooLarge", "too large"),
      rejects("chunked body without length growing past the limit",
              chunked(tasks, std::string(kBodyLimit + (1 << 20), ' ')), 413,
              "RequestEntityTooLarge", "too large"),
      bad_request("malformed chunk size", chunked(tasks, valid, "zz\r\n\r\n"),
                  "the request body could not be read"),
      rejects("gzip-encoded body (a decompression bomb)",
              http("POST", tasks, std::string(1000, 'x'), "application/json",
                   "Content-Encoding: gzip\r\n"),
              415, "UnsupportedMediaType", "Content-Encoding \"gzip\""),
      bad_request("Transfer-Encoding other than chunked",
                  http("POST", tasks, valid, "application/json", "Transfer-Encoding: gzip\r\n"),
                  "Transfer-Encoding \"gzip\""),
      bad_request("negative Content-Length",
                  "POST " + tasks +
                      " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: -1\r\n\r\n{}",
                  "invalid Content-Length \"-1\""),
      bad_request("conflicting Content-Length headers",
                  "POST " + tasks +
                      " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n"
                      "Content-Length: 9\r\n\r\n{}",
                  "conflicting Content-Length"),
      bad_request("POST without Content-Length (no body, per RFC 9112)",
                  "POST " + tasks + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + valid,
                  "the request body is empty"),
      rejects("multipart body",
              http("POST", tasks, "--b\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b"),
              415, "UnsupportedMediaType", "multipart"),
      invalid("1 MiB metadata.name", create(task(std::string(1 << 20, 'a'))), "metadata.name"),
      invalid("1 MiB label value", create(task_with([](Json& t) {
                t["metadata"]["labels"]["big"] = std::string(1 << 20, 'v');
              })),
              "metadata.labels[big]"),
      invalid("300 KiB of annotations", create(task_with([](Json& t) {
                t["metadata"]["annotations"]["a"] = std::string(300 << 10, 'v');
              })),
              "metadata.annotations"),
      invalid("2.5 MiB script body", create(task_with([](Json& t) {
                t["spec"]["subprocess"] = {
                    {"script", {{"runtime", "sh"}, {"body", std::string(5 << 19, '#')}}}};
              })),
              "spec.subprocess.script.body"),

      // Bytes that are not text.
      bad_request("invalid UTF-8 in metadata.name (JSON)",
                  create_spliced([](Json& t) { t["metadata"]["name"] = "aMARK"; }, "\xff"),
                  "couldn't decode the JSON body"),
      bad_request("invalid UTF-8 in a label value (YAML)",
                  create_yaml(task_yaml("  labels: {app: \"b\xc3\x28\"}\n")),
                  "line 5, column 19: invalid UTF-8"),
      bad_request("invalid UTF-8 in spec.subprocess.args (YAML)",
                  create_yaml(task_yaml("", "    args: [\"\xed\xa0\x80\"]\n")), "invalid UTF-8"),
      invalid("NUL in metadata.name", create(task(std::string("a\0b", 3))), "metadata.name"),
      bad_request(
          "raw NUL byte in a JSON string",
          create_spliced([](Json& t) { t["metadata"]["name"] = "aMARK"; }, std::string(1, '\0')),
          "couldn't decode the JSON body"),
      bad_request("raw NUL byte in YAML", create_yaml(task_yaml("  uid: a" + std::string(1, '\0'))),
                  "control characters are not allowed (found U+0000)"),
      invalid("NUL in spec.subprocess.command", create(task_with([](Json& t) {
                t["spec"]["subprocess"]["command"] = std::string("/bin/true\0-x", 12);
              })),
              "spec.subprocess.command"),
      invalid("NUL in an environment value", create(task_with([](Json& t) {
                t["spec"]["subprocess"]["env"] = {{{"name", "A"}, {"value", std::string("\0", 1)}}};
              })),
              "spec.subprocess.env[0].value"),
      not_found("%00 in the name in the URL", get(tasks + "/a%00b"), "not found"),

      // Wrong types.
      invalid("spec as a string", create(task_with([](Json& t) { t["spec"] = "run it"; })),
              "spec: must be an object"),
      invalid("timeout as a number", create(task_with([](Json& t) { t["spec"]["timeout"] = 10; })),
              "spec.timeout"),
      invalid("command as an object", create(task_with([](Json& t) {
                t["spec"]["subprocess"]["command"] = {{"path", "/bin/true"}};
              })),
              "spec.subprocess.command"),
      invalid("labels as a list", create(task_with([](Json& t) {
                t["metadata"]["labels"] = {"a", "b"};
              })),
              "metadata.labels"),
      invalid("metadata.name as a number",
              create(task_with([](Json& t) { t["metadata"]["name"] = 42; })), "metadata.name"),
      invalid("suspend as a string",
              create(task_with([](Json& t) { t["spec"]["suspend"] = "yes"; })), "spec.suspend"),
      invalid("maxRetries of 1e30",
              create(task_with([](Json& t) { t["spec"]["maxRetries"] = 1e30; })),
              "spec.maxRetries"),
      invalid("args as a string",
              create(task_with([](Json& t) { t["spec"]["subprocess"]["args"] = "-x"; })),
              "spec.subprocess.args"),
      invalid("kind of another resource", create(task_with([](Json& t) { t["kind"] = "TaskRun"; })),
              "kind"),

      // Unknown fields.
      bad_request("unknown field under fieldValidation=Strict",
                  create(task_with([](Json& t) { t["spec"]["subprocess"]["bogus"] = 1; }),
                         "?fieldValidation=Strict"),
                  "unknown field \"spec.subprocess.bogus\""),
      accepts("unknown field under fieldValidation=Warn (dry run)",
              create(task_with([](Json& t) { t["spec"]["bogus"] = 1; }),
                     "?fieldValidation=Warn&dryRun=All"),
              201, R"(Warning: 299 - "unknown field \"spec.bogus\"")"),
      bad_request("unknown fieldValidation", create(task("x"), "?fieldValidation=Loose"),
                  "fieldValidation"),

      // Names.
      invalid("uppercase name", create(task("Nightly")), "metadata.name"),
      invalid("254-character name", create(task(std::string(254, 'a'))), "metadata.name"),
      invalid("name ..", create(task("..")), "metadata.name"),
      invalid("name with a slash", create(task("a/b")), "metadata.name"),
      invalid("empty name", create(task("")), "metadata.name"),
      invalid("bad generateName", create(task_with([](Json& t) {
                t["metadata"].erase("name");
                t["metadata"]["generateName"] = "Bad_";
              })),
              "metadata.generateName"),
      bad_request("namespace in the body differs from the path",
                  create(task_with([](Json& t) { t["metadata"]["namespace"] = "kube-system"; })),
                  "namespace"),
      bad_request("name in the body differs from the URL",
                  http("PUT", tasks + "/seed-a", task("seed-b").dump()),
                  "does not match the name on the URL"),
      bad_request("resourceVersion set on create",
                  create(task_with([](Json& t) { t["metadata"]["resourceVersion"] = "1"; })),
                  "resourceVersion"),

      // Path tricks.
      bad_request("namespace .. in the path", get("/apis/solti.io/v1/namespaces/../tasks"),
                  "metadata.namespace \"..\" in the request path"),
      bad_request("namespace %2e%2e in the path",
                  http("POST", "/apis/solti.io/v1/namespaces/%2e%2e/tasks", valid),
                  "metadata.namespace"),
      bad_request("name .. in the URL", get(tasks + "/.."), "metadata.name \"..\""),
      bad_request("name %2e%2e in the URL", http("PUT", tasks + "/%2e%2e", task("..").dump()),
                  "metadata.name"),
      bad_request("name . in the URL", http("DELETE", tasks + "/."), "metadata.name"),
      bad_request("name %25 in the URL", get(tasks + "/a%25b"), "may not contain '%'"),
      not_found("%2F in the name", get(tasks + "/seed-a%2Fstatus%2Fx")),
      invalid("namespace that is not a DNS label",
              http("POST", "/apis/solti.io/v1/namespaces/Bad_NS/tasks", valid),
              "metadata.namespace"),

      // Working directories and module paths.
      invalid("relative cwd",
              create(task_with([](Json& t) { t["spec"]["subprocess"]["cwd"] = "var/backups"; })),
              "spec.subprocess.cwd"),
      invalid(".. in cwd",
              create(task_with([](Json& t) { t["spec"]["subprocess"]["cwd"] = "/var/../../etc"; })),
              "spec.subprocess.cwd"),
      invalid("relative wasm module", create(task_with([](Json& t) {
                t["spec"].erase("subprocess");
                t["spec"]["wasm"] = {{"module", "../app.wasm"}};
              })),
              "spec.wasm.module"),

      // Labels, annotations, selectors in the spec.
      invalid("label key over 63 characters", create(task_with([](Json& t) {
                t["metadata"]["labels"][std::string(64, 'k')] = "v";
              })),
              "metadata.labels"),
      invalid("label key with a bad prefix",
              create(task_with([](Json& t) { t["metadata"]["labels"]["Bad_Prefix!/k"] = "v"; })),
              "metadata.labels"),
      invalid("label value with spaces",
              create(task_with([](Json& t) { t["metadata"]["labels"]["team"] = "data team"; })),
              "metadata.labels[team]"),
      invalid("bad annotation key",
              create(task_with([](Json& t) { t["metadata"]["annotations"]["-bad-"] = "v"; })),
              "metadata.annotations"),
      invalid("runnerSelector with an unknown operator", create(task_with([](Json& t) {
                t["spec"]["runnerSelector"] = {
                    {"matchExpressions", {{{"key", "zone"}, {"operator", "Near"}}}}};
              })),
              "spec.runnerSelector"),

      // Query parameters of lists.
      bad_request("labelSelector with unbalanced parentheses",
                  get(tasks + "?labelSelector=zone+in+%28a%2Cb"), "label selector"),
      bad_request("labelSelector with an unknown operator", get(tasks + "?labelSelector=a%3E%3Eb"),
                  "label selector"),
      bad_request("fieldSelector on an unknown field", get(tasks + "?fieldSelector=spec.nope%3D1"),
                  "spec.nope"),
      bad_request("fieldSelector with an unknown operator",
                  get(tasks + "?fieldSelector=metadata.name%3E1"), "field selector"),
      bad_request("resourceVersion abc", get(tasks + "?resourceVersion=abc"), "resourceVersion"),
      bad_request("negative resourceVersion", get(tasks + "?resourceVersion=-1"),
                  "resourceVersion"),
      bad_request("resourceVersion beyond 64 bits",
                  get(tasks + "?resourceVersion=99999999999999999999999"), "resourceVersion"),
      rejects("list at a resourceVersion the store has not reached",
              get(tasks + "?resourceVersion=999999999"), 504, "Timeout",
              "Too large resource version: 999999999"),
      invalid("unknown resourceVersionMatch",
              get(tasks + "?resourceVersion=1&resourceVersionMatch=Soon"), "resourceVersionMatch"),
      invalid("resourceVersionMatch without resourceVersion",
              get(tasks + "?resourceVersionMatch=Exact"), "resourceVersionMatch"),
      bad_request("limit abc", get(tasks + "?limit=abc"), "limit"),
      bad_request("negative limit", get(tasks + "?limit=-5"), "limit"),
      bad_request("limit beyond 64 bits", get(tasks + "?limit=99999999999999999999"), "limit"),
      bad_request("garbage continue token", get(tasks + "?limit=1&continue=garbage!"), "continue"),
      rejects("forged continue token", get(tasks + "?limit=1&continue=" + forged_token), 410,
              "Expired", "continue"),
      bad_request("continue token of another list",
                  get(all_tasks + "?limit=1&continue=" + other_list_token), "continue"),
      bad_request("dryRun other than All", create(task("x"), "?dryRun=Some"), "dryRun"),
      bad_request("fieldManager of 200 characters",
                  create(task("x"), "?dryRun=All&fieldManager=" + std::string(200, 'm')),
                  "fieldManager"),

      // Media types.
      rejects("text/plain body", http("POST", tasks, valid, "text/plain"), 415,
              "UnsupportedMediaType", "application/yaml"),
      rejects("strategic merge patch",
              patch("seed-a", "{}", "application/strategic-merge-patch+json"), 415,
              "UnsupportedMediaType", "application/merge-patch+json"),
      rejects("patch as application/json", patch("seed-a", "{}", "application/json"), 415,
              "UnsupportedMediaType", "application/json-patch+json"),
      rejects("patch without a content type", patch("seed-a", "{}", ""), 415,
              "UnsupportedMediaType", "application/apply-patch+yaml"),
      // Kubernetes reads a body without Content-Type as JSON.
      invalid("create without a content type", http("POST", tasks, task("UP").dump(), ""),
              "metadata.name"),

      // Watches with absurd parameters.
      bad_request("watch with timeoutSeconds=-1", get(tasks + "?watch=true&timeoutSeconds=-1"),
                  "timeoutSeconds"),
      accepts("watch with timeoutSeconds=99999999999",
              get(tasks + "?watch=true&timeoutSeconds=99999999999"), 200,
              "Transfer-Encoding: chunked", true),
      rejects("watch from a resourceVersion far in the future",
              get(tasks + "?watch=true&resourceVersion=99999999999"), 504, "Timeout",
              "Too large resource version"),
      bad_request("watch from resourceVersion abc", get(tasks + "?watch=true&resourceVersion=abc"),
                  "resourceVersion"),
      invalid("sendInitialEvents without resourceVersionMatch",
              get(tasks + "?watch=true&sendInitialEvents=true"), "resourceVersionMatch"),
      invalid("resourceVersionMatch on a watch without sendInitialEvents",
              get(tasks + "?watch=true&resourceVersionMatch=NotOlderThan"), "resourceVersionMatch"),
      invalid("sendInitialEvents on a list", get(tasks + "?sendInitialEvents=true"),
              "sendInitialEvents"),
      accepts("watch with a limit", get(tasks + "?watch=true&limit=5&timeoutSeconds=30"), 200,
              "Transfer-Encoding: chunked", true),
      bad_request("watch=maybe", get(tasks + "?watch=maybe"), "watch"),
      bad_request("allowWatchBookmarks=perhaps",
                  get(tasks + "?watch=true&allowWatchBookmarks=perhaps"), "allowWatchBookmarks"),

      // Methods.
      not_allowed("OPTIONS on tasks", http("OPTIONS", tasks, "", "")),
      not_allowed("TRACE on tasks", http("TRACE", tasks, "", "")),
      not_allowed("BREW on tasks", http("BREW", tasks, "", "")),
      not_allowed("PUT on the collection", http("PUT", tasks, valid)),
      not_allowed("POST on an item", http("POST", tasks + "/seed-a", valid)),
      not_allowed("DELETE of all namespaces' tasks", http("DELETE", all_tasks)),
      not_allowed("POST of a TaskRun",
                  http("POST", "/apis/solti.io/v1/namespaces/default/taskruns", valid)),
      not_allowed("PUT on the log", http("PUT", tasks + "/seed-a/log", valid)),

      // Unknown paths.
      not_found("unknown resource", get("/apis/solti.io/v1/namespaces/default/widgets")),
      not_found("unknown group", get("/apis/evil.io/v1/namespaces/default/tasks")),
      not_found("unknown version", get("/apis/solti.io/v2/namespaces/default/tasks")),
      not_found("unknown subresource", get(tasks + "/seed-a/exec")),
      not_found("POST to /version", http("POST", "/version", std::string(1 << 20, 'x'))),

      // JSON patches.
      invalid("JSON patch with an unknown op",
              patch("seed-a", R"([{"op":"explode","path":"/spec"}])", json_patch), "explode"),
      invalid(
          "JSON patch into a missing path",
          patch("seed-a", R"([{"op":"replace","path":"/spec/nope/deeper","value":1}])", json_patch),
          "nope"),
      bad_request("JSON patch that is not a list", patch("seed-a", R"({"op":"add"})", json_patch),
                  "list of operations"),
      invalid("JSON patch removing the root",
              patch("seed-a", R"([{"op":"remove","path":""}])", json_patch), "JSON patch"),
      invalid("JSON patch add without a value",
              patch("seed-a", R"([{"op":"add","path":"/spec/x"}])", json_patch), "value"),
      invalid("JSON patch with a failing test",
              patch("seed-a", R"([{"op":"test","path":"/spec/timeout","value":"1s"}])", json_patch),
              "JSON patch"),
      bad_request(
          "JSON patch renaming the object",
          patch("seed-a", R"([{"op":"replace","path":"/metadata/name","value":"b"}])", json_patch),
          "name"),

      // Merge patches and server-side apply.
      bad_request("merge patch changing metadata.name",
                  patch("seed-a", R"({"metadata":{"name":"other"}})", merge), "name"),
      bad_request("merge patch changing metadata.namespace",
                  patch("seed-a", R"({"metadata":{"namespace":"other"}})", merge), "namespace"),
      invalid("merge patch changing metadata.uid",
              patch("seed-a", R"({"metadata":{"uid":"forged"}})", merge), "metadata.uid"),
      bad_request("merge patch that is a list", patch("seed-a", "[1]", merge), "JSON object"),
      invalid("merge patch removing spec", patch("seed-a", R"({"spec":null})", merge),
              "spec.timeout"),
      invalid("status patch with an unknown phase",
              http("PATCH", tasks + "/seed-a/status", R"({"status":{"phase":"Sleeping"}})", merge),
              "status.phase"),
      bad_request("apply without fieldManager", patch("seed-a", task("seed-a").dump(), apply),
                  "fieldManager"),
      bad_request("apply naming another object",
                  patch("seed-a", task("other").dump(), apply, "?fieldManager=ci"),
                  "metadata.name"),
      bad_request(
          "apply setting managedFields",
          patch("seed-a", task_with([](Json& t) {
                            t["metadata"] = {{"name", "seed-a"}, {"managedFields", Json::array()}};
                          }).dump(),
                apply, "?fieldManager=ci"),
          "metadata.managedFields"),
      bad_request("apply with force=maybe",
                  patch("seed-a", task("seed-a").dump(), apply, "?fieldManager=ci&force=maybe"),
                  "force"),
      bad_request("force on a merge patch", patch("seed-a", "{}", merge, "?force=true"), "force"),

      // Deletes and logs.
      bad_request("malformed DeleteOptions",
                  http("DELETE", tasks + "/seed-a", R"({"preconditions":)"),
                  "couldn't decode the JSON body"),
      bad_request("DeleteOptions that is a list", http("DELETE", tasks + "/seed-a", "[1]"),
                  "DeleteOptions"),
      rejects("delete with a forged uid precondition",
              http("DELETE", tasks + "/seed-a", R"({"preconditions":{"uid":"forged"}})"), 409,
              "Conflict", "UID in precondition: forged"),
      bad_request("deletecollection with an invalid selector",
                  http("DELETE", tasks + "?labelSelector=a+in+%28"), "label selector"),
      bad_request("log attempt abc", get(tasks + "/seed-a/log?attempt=abc"), "attempt"),
      bad_request("log tailLines=-1", get(tasks + "/seed-a/log?tailLines=-1"), "tailLines"),

      // HTTP itself.
      bad_request("garbage request line", "GARBAGE\r\n\r\n", "could not be processed"),
      bad_request("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "could not be processed"),
      bad_request("HTTP/9.9", "GET /readyz HTTP/9.9\r\nHost: x\r\n\r\n", "could not be processed"),
  };
}

// --- the fixture ----------------------------------------------------------------------------

// API only (--no-reconciler): no write in these tests is anyone's but the test's.
class HostileInputTest : public ::testing::Test {
 protected:
  HostileInputTest() : soltid_({"--no-reconciler"}) {}

  void SetUp() override {
    soltid_.start();
    client_ = soltid_.client();
  }

  testing::Reply call(const std::string& method, const std::string& path,
                      const std::string& body = "") {
    return testing::call(*client_, method, path, body);
  }

  // Suspended Tasks in two namespaces, so that nothing would run anyway.
  void seed() {
    for (const char* name : {"seed-a", "seed-b"}) {
      ASSERT_EQ(call("POST", kTasks, task(name).dump()).status, 201);
    }
    ASSERT_EQ(
        call("POST", "/apis/solti.io/v1/namespaces/other/tasks", task("seed-c").dump()).status,
        201);
  }

  // Everything stored, with the lists' resourceVersion (the store's revision).
  std::string snapshot() {
    return call("GET", "/apis/solti.io/v1/tasks").text + "\n" +
           call("GET", "/apis/solti.io/v1/taskruns").text;
  }

  long rss_kib() {
    std::ifstream status("/proc/" + std::to_string(soltid_.pid()) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    }
    ADD_FAILURE() << "no VmRSS for soltid";
    return 0;
  }

  SoltidProcess soltid_;
  std::unique_ptr<httplib::Client> client_;
};

void expect_reply(const HostileCase& c, const RawReply& reply) {
  ASSERT_TRUE(reply.answered) << "no reply within " << kReplyTimeout.count() << " s";
  EXPECT_EQ(reply.status, c.status) << reply.head << "\n" << reply.body.substr(0, 1000);
  if (c.reason.empty()) {
    EXPECT_NE(reply.head.find(c.message), std::string::npos) << reply.head;
    return;
  }
  const Json status = Json::parse(reply.body, nullptr, false);
  ASSERT_TRUE(status.is_object()) << reply.body.substr(0, 1000);
  EXPECT_EQ(status.value("kind", ""), "Status");
  EXPECT_EQ(status.value("code", 0), c.status);
  EXPECT_EQ(status.value("reason", ""), c.reason);
  const std::string message = status.value("message", "");
  EXPECT_NE(message.find(c.message), std::string::npos)
      << "message: " << message.substr(0, 1000) << "\nexpected to contain: " << c.message;
}

TEST_F(HostileInputTest, EachCaseGetsItsStatusQuicklyAndNothingStoredChanges) {
  seed();
  const std::string token =
      call("GET", std::string(kTasks) + "?limit=1").body["metadata"].value("continue", "");
  ASSERT_FALSE(token.empty());
  const std::vector<HostileCase> cases = hostile_cases(token);
  ASSERT_GE(cases.size(), 60u);
  const std::string before = snapshot();
  const long rss_before = rss_kib();

  const auto start = SteadyClock::now();
  for (const HostileCase& c : cases) {
    SCOPED_TRACE(c.name);
    expect_reply(c, exchange(soltid_.port(), c.request, c.stream));
    EXPECT_EQ(call("GET", "/readyz").status, 200) << "soltid is down";
  }
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start);
  std::printf("%zu hostile cases in %lld ms\n", cases.size(), (long long)took.count());

  EXPECT_EQ(snapshot(), before) << "stored data changed";
  // A bound, not a measurement: every case together may not cost 100 MB.
  EXPECT_LT(rss_kib(), rss_before + testing::memory_bound_kib(100 * 1024))
      << "RSS before: " << rss_before << " KiB";
}

// cpp-httplib's client (soltictl's) writes its whole body before it reads:
// the server still reads a body a little over the limit, so that this
// client gets the 413 and not a reset connection.
TEST_F(HostileInputTest, OversizedBodyFromAClientThatWritesFirstGets413) {
  testing::Reply r = call("POST", kTasks, std::string(5 << 20, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body["reason"], "RequestEntityTooLarge");
  EXPECT_EQ(call("POST", std::string(kTasks) + "?dryRun=All", task("after").dump()).status, 201);
}

// Connections that stop sending mid-request (in the request line, in the
// headers, in a body with a length, in a chunked body) are dropped or
// answered within the server's read timeout, and others are served meanwhile.
TEST_F(HostileInputTest, SlowLorisConnectionsAreDroppedWhileOthersAreServed) {
  const std::vector<std::string> partial_requests = {
      "GET /apis/solti.io/v1/namesp",
      "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
      "POST " + std::string(kTasks) +
          " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          "Content-Length: 1000\r\n\r\n{\"apiVersion\":",
      "POST " + std::string(kTasks) +
          " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          "Transfer-Encoding: chunked\r\n\r\n10\r\n{\"apiVersion\":\"s",
  };
  constexpr int kSlowClients = 50;
  std::vector<int> slow;
  for (int i = 0; i < kSlowClients; ++i) {
    const int fd = connect_to(soltid_.port());
    ASSERT_GE(fd, 0);
    const std::string& partial = partial_requests[size_t(i) % partial_requests.size()];
    ASSERT_EQ(send(fd, partial.data(), partial.size(), MSG_NOSIGNAL), ssize_t(partial.size()));
    slow.push_back(fd);
  }
  const auto opened = SteadyClock::now();

  const auto served_from = SteadyClock::now();
  EXPECT_EQ(call("GET", "/readyz").status, 200);
  EXPECT_EQ(call("GET", kTasks).status, 200);
  EXPECT_EQ(call("POST", std::string(kTasks) + "?dryRun=All", task("meanwhile").dump()).status,
            201);
  EXPECT_LT(SteadyClock::now() - served_from, std::chrono::seconds(5));

  // Each slow connection ends with the server closing it or answering 4xx.
  const auto deadline = opened + kServerReadTimeout + std::chrono::seconds(10);
  for (const int fd : slow) {
    std::string in;
    bool ended = false;
    while (!ended && SteadyClock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      if (poll(&p, 1, int(std::max<int64_t>(left.count(), 0))) <= 0) continue;
      char buffer[4096];
      const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n > 0) in.append(buffer, size_t(n));
      ended = n <= 0 || in.find("\r\n\r\n") != std::string::npos;
    }
    EXPECT_TRUE(ended) << "a slow client still held its connection after "
                       << (kServerReadTimeout + std::chrono::seconds(10)).count() << " s";
    if (!in.empty()) {
      EXPECT_TRUE(in.rfind("HTTP/1.1 400", 0) == 0 || in.rfind("HTTP/1.1 408", 0) == 0) << in;
    }
    close(fd);
  }
  EXPECT_EQ(call("GET", "/readyz").status, 200);
}

}  // namespace
}  // namespace solti
