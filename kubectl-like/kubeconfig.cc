#include "kubectl-like/kubeconfig.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/yaml.h"

namespace solti::ctl {
namespace {

std::string kubeconfig_path(const ConnectionFlags& flags) {
  if (!flags.kubeconfig.empty()) return flags.kubeconfig;
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string list = env;
    return list.substr(0, list.find(':'));
  }
  const char* home = std::getenv("HOME");
  return home ? std::string(home) + "/.kube/config" : "";
}

// The entry of `list` (clusters, users, contexts) called `name`.
const Json* named(const Json& config, const char* list, const std::string& name) {
  if (!config.contains(list) || !config[list].is_array()) return nullptr;
  for (const auto& entry : config[list])
    if (entry.is_object() && entry.value("name", "") == name) return &entry;
  return nullptr;
}

std::string string_in(const Json* entry, const char* section, const char* field) {
  if (!entry || !entry->contains(section) || !(*entry)[section].is_object()) return "";
  const Json& s = (*entry)[section];
  return s.contains(field) && s[field].is_string() ? s[field].get<std::string>() : "";
}

std::string base64_decode(const std::string& text) {
  std::string out(text.size(), '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(text.data()), int(text.size()));
  if (n < 0) return "";
  size_t padding = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) ++padding;
  out.resize(size_t(n) - std::min(size_t(n), padding));
  return out;
}

// Relative paths in a kubeconfig are relative to the file.
std::string resolve_path(const std::string& path, const std::string& kubeconfig) {
  if (path.empty() || path[0] == '/') return path;
  return (std::filesystem::path(kubeconfig).parent_path() / path).string();
}

}  // namespace

Result<Target> resolve_target(const ConnectionFlags& flags) {
  Target target;
  const char* env_server = std::getenv("SOLTI_SERVER");
  const std::string path = kubeconfig_path(flags);
  const bool use_kubeconfig =
      flags.server.empty() && !(env_server && *env_server) && !path.empty() &&
      (std::filesystem::exists(path) || !flags.kubeconfig.empty() || !flags.context.empty());
  if (use_kubeconfig) {
    std::ifstream in(path);
    if (!in) return Status(StatusCode::kNotFound, "cannot read kubeconfig " + path);
    std::stringstream text;
    text << in.rdbuf();
    auto docs = parse_yaml(text.str());
    if (!docs.ok()) return Status(StatusCode::kBadRequest, path + ": " + docs.status().message());
    const Json config = docs->empty() ? Json::object() : docs->front().value;
    const std::string context_name =
        !flags.context.empty() ? flags.context : config.value("current-context", "");
    const Json* context = named(config, "contexts", context_name);
    if (!context) {
      return Status(StatusCode::kNotFound,
                    path + ": context \"" + context_name + "\" does not exist");
    }
    const Json* cluster = named(config, "clusters", string_in(context, "context", "cluster"));
    const Json* user = named(config, "users", string_in(context, "context", "user"));
    target.connection.server = string_in(cluster, "cluster", "server");
    if (target.connection.server.empty()) {
      return Status(StatusCode::kInvalid,
                    path + ": context \"" + context_name + "\" has no cluster server");
    }
    target.connection.ca_file =
        resolve_path(string_in(cluster, "cluster", "certificate-authority"), path);
    target.connection.ca_pem =
        base64_decode(string_in(cluster, "cluster", "certificate-authority-data"));
    target.connection.token = string_in(user, "user", "token");
    if (const std::string file = string_in(user, "user", "tokenFile"); !file.empty()) {
      std::ifstream token_in(resolve_path(file, path));
      std::getline(token_in, target.connection.token);
    }
    if (const std::string ns = string_in(context, "context", "namespace"); !ns.empty())
      target.namespace_ = ns;
  } else if (env_server && *env_server) {
    target.connection.server = env_server;
  }
  if (!flags.server.empty()) target.connection.server = flags.server;
  if (!flags.token.empty()) target.connection.token = flags.token;
  if (!flags.ca_file.empty()) target.connection.ca_file = flags.ca_file;
  if (!flags.namespace_.empty()) target.namespace_ = flags.namespace_;
  return target;
}

}  // namespace solti::ctl
