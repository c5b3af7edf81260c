// Where soltictl connects, resolved as kubectl does: explicit flags first,
// then $SOLTI_SERVER, then the current (or --context) context of the
// kubeconfig ($KUBECONFIG's first file, else ~/.kube/config): its cluster's
// server and CA, its user's bearer token, its namespace. Without any of
// them: http://127.0.0.1:6443, namespace default.
#pragma once

#include <string>

#include "kubectl-like/api_client.h"
#include "model/status.h"

namespace solti::ctl {

struct ConnectionFlags {
  std::string server;
  std::string token;
  std::string ca_file;
  std::string kubeconfig;  // --kubeconfig: instead of $KUBECONFIG
  std::string context;     // --context: instead of current-context
  std::string namespace_;  // -n
};

struct Target {
  Connection connection;
  std::string namespace_ = "default";
};

// Errors name the kubeconfig file and what is missing or malformed.
Result<Target> resolve_target(const ConnectionFlags& flags);

}  // namespace solti::ctl
