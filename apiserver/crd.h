// The Task CustomResourceDefinition (apiextensions.k8s.io/v1) with the same
// schema the server serves, so that Task manifests and the reconciler can
// also be used against a real Kubernetes API server (DESIGN §10).
#pragma once

#include "apiserver/strategy.h"

namespace solti::api {

// A structural CRD schema: metadata left to Kubernetes, status as a subresource,
// the table columns of `kubectl get` as additionalPrinterColumns.
Json custom_resource_definition(const Strategy& strategy);

}  // namespace solti::api
