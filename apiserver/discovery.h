// Discovery and OpenAPI documents for the served resources, in the shapes
// stock kubectl needs (../shared/KUBECTL-NOTES.md §1-2). Pure functions.
#pragma once

#include <string>
#include <vector>

#include "apiserver/strategy.h"

namespace solti::api {

// /version. The minor version picks the kubectl the gcloud dispatcher runs.
Json version_document(const std::string& solti_version);
// /apis without aggregated discovery.
Json api_group_list(const std::vector<const Strategy*>& resources);
// /apis/solti.io
Json api_group(const std::vector<const Strategy*>& resources);
// /apis/solti.io/v1
Json api_resource_list(const std::vector<const Strategy*>& resources);
// /apis with aggregated discovery; `version` is "v2" or "v2beta1".
Json aggregated_discovery(const std::vector<const Strategy*>& resources,
                          const std::string& version);
// /openapi/v3/apis/solti.io/v1
Json openapi_v3_group(const std::vector<const Strategy*>& resources);
// /openapi/v3, pointing at the group document by its content hash.
Json openapi_v3_index(const std::string& group_hash);

}  // namespace solti::api
