#include "apiserver/auth.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "model/yaml.h"

namespace solti::api {
namespace {

// Splits one CSV line, honouring double quotes ("a,b" is one field).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool matches_any(const std::vector<std::string>& allowed, const std::string& value) {
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const std::string& a) { return a == "*" || a == value; });
}

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(StatusCode::kNotFound, "cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Result<TokenAuthenticator> TokenAuthenticator::load(const std::string& path) {
  auto text = read_text(path);
  if (!text.ok()) return text.status();
  TokenAuthenticator auth;
  std::istringstream lines(*text);
  int number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    auto fields = csv_fields(line);
    if (fields.size() < 3 || fields[0].empty() || fields[1].empty()) {
      return Status(StatusCode::kInvalid, path + ":" + std::to_string(number) +
                                              ": expected token,user,uid[,\"group1,group2\"]");
    }
    UserInfo user{fields[1], fields[2],
                  fields.size() > 3 ? split_commas(fields[3]) : std::vector<std::string>{}};
    user.groups.push_back("system:authenticated");
    auth.users_[fields[0]] = std::move(user);
  }
  return auth;
}

std::optional<UserInfo> TokenAuthenticator::authenticate(const std::string& header) const {
  // The scheme is case-insensitive (RFC 9110 §11.1), as kube-apiserver has it.
  constexpr std::string_view kBearer = "bearer ";
  if (header.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), header.begin(),
                  [](char want, char got) { return want == std::tolower(uint8_t(got)); }))
    return std::nullopt;
  auto it = users_.find(header.substr(kBearer.size()));
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

Result<PolicyAuthorizer> PolicyAuthorizer::load(const std::string& path) {
  auto text = read_text(path);
  if (!text.ok()) return text.status();
  auto docs = parse_yaml(*text);
  if (!docs.ok()) return Status(StatusCode::kInvalid, path + ": " + docs.status().message());
  if (docs->size() != 1 || !(*docs)[0].value.is_object() || !(*docs)[0].value["rules"].is_array()) {
    return Status(StatusCode::kInvalid, path + ": expected a document with a list of rules");
  }
  PolicyAuthorizer authorizer;
  size_t index = 0;
  for (const auto& r : (*docs)[0].value["rules"]) {
    auto list = [&](const char* field, std::vector<std::string>& out) -> Status {
      if (!r.contains(field)) return Status::Ok();
      if (!r[field].is_array()) {
        return Status(StatusCode::kInvalid,
                      path + ": rules[" + std::to_string(index) + "]." + field + " must be a list");
      }
      for (const auto& item : r[field]) {
        if (!item.is_string()) {
          return Status(StatusCode::kInvalid, path + ": rules[" + std::to_string(index) + "]." +
                                                  field + " must hold strings");
        }
        out.push_back(item.get<std::string>());
      }
      return Status::Ok();
    };
    Rule rule;
    for (auto [field, out] :
         {std::pair<const char*, std::vector<std::string>*>{"users", &rule.users},
          {"groups", &rule.groups},
          {"namespaces", &rule.namespaces},
          {"verbs", &rule.verbs},
          {"resources", &rule.resources},
          {"nonResourceURLs", &rule.non_resource_urls}}) {
      if (Status s = list(field, *out); !s.ok()) return s;
    }
    if (rule.users.empty() && rule.groups.empty()) {
      return Status(StatusCode::kInvalid,
                    path + ": rules[" + std::to_string(index) + "] names no users or groups");
    }
    authorizer.rules_.push_back(std::move(rule));
    ++index;
  }
  return authorizer;
}

bool PolicyAuthorizer::allowed(const AccessRequest& request) const {
  for (const auto& rule : rules_) {
    bool who = matches_any(rule.users, request.user->name) ||
               std::any_of(request.user->groups.begin(), request.user->groups.end(),
                           [&](const std::string& g) { return matches_any(rule.groups, g); });
    if (!who) continue;
    if (!request.non_resource_url.empty()) {
      if (matches_any(rule.non_resource_urls, request.non_resource_url) &&
          (rule.verbs.empty() || matches_any(rule.verbs, request.verb)))
        return true;
      continue;
    }
    if (!matches_any(rule.verbs, request.verb)) continue;
    if (!rule.resources.empty() && !matches_any(rule.resources, request.resource)) continue;
    // A cluster-wide request (no namespace) needs "*".
    if (request.namespace_.empty() ? !matches_any(rule.namespaces, "*")
                                   : !matches_any(rule.namespaces, request.namespace_))
      continue;
    return true;
  }
  return false;
}

std::string forbidden_message(const AccessRequest& request, const std::string& group) {
  const std::string who = "User \"" + request.user->name + "\" cannot ";
  if (!request.non_resource_url.empty()) {
    return "forbidden: " + who + request.verb + " path \"" + request.non_resource_url + "\"";
  }
  std::string message = request.resource + "." + group + " is forbidden: " + who + request.verb +
                        " resource \"" + request.resource + "\" in API group \"" + group + "\"";
  message += request.namespace_.empty() ? " at the cluster scope"
                                        : " in the namespace \"" + request.namespace_ + "\"";
  return message;
}

}  // namespace solti::api
