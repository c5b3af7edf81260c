// Authentication (Kubernetes static token file) and authorization (a small
// namespace/verb policy file). Immutable after loading; thread-safe.
//
// Token file, as kube-apiserver's --token-auth-file: CSV lines
//   token,user,uid,"group1,group2"        (groups optional; '#' comments)
//
// Policy file (YAML): a request is allowed when any rule matches it.
//   rules:
//     - users: [alice]            # and/or groups: [devs]; "*" matches anyone
//       namespaces: [team-a]      # "*" = every namespace, needed for cluster-wide lists
//       verbs: [get, list, watch] # get list watch create update patch delete deletecollection, or
//       "*" resources: [tasks]        # optional; default every resource
//     - groups: [monitoring]
//       nonResourceURLs: [/metrics]
// Without a policy file every authenticated user may do everything.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/status.h"

namespace solti::api {

struct UserInfo {
  std::string name;
  std::string uid;
  std::vector<std::string> groups;
};

class TokenAuthenticator {
 public:
  static Result<TokenAuthenticator> load(const std::string& path);
  // The user of `Authorization: Bearer <token>`, if the token is known.
  std::optional<UserInfo> authenticate(const std::string& authorization_header) const;

 private:
  std::map<std::string, UserInfo> users_;
};

struct AccessRequest {
  const UserInfo* user = nullptr;
  std::string verb;
  std::string resource;          // "tasks", "taskruns"; empty for non-resource paths
  std::string namespace_;        // empty: all namespaces
  std::string non_resource_url;  // e.g. "/metrics"
};

class PolicyAuthorizer {
 public:
  static Result<PolicyAuthorizer> load(const std::string& path);
  bool allowed(const AccessRequest& request) const;

 private:
  struct Rule {
    std::vector<std::string> users, groups, namespaces, verbs, resources, non_resource_urls;
  };
  std::vector<Rule> rules_;
};

// The Kubernetes wording of a denial, e.g. `tasks.solti.io is forbidden: User
// "bob" cannot list resource "tasks" in API group "solti.io" in the namespace "default"`.
std::string forbidden_message(const AccessRequest& request, const std::string& group);

}  // namespace solti::api
