// Prometheus metrics of the API server and its store, rendered in the text
// exposition format for GET /metrics. Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "store/store.h"

namespace solti::api {

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // verb: get, list, watch, create, update, patch, apply, delete,
  // deletecollection, or the HTTP method for non-resource paths.
  // Watches are counted but kept out of the latency histogram: their
  // duration is their lifetime.
  void observe_request(const std::string& verb, const std::string& resource, int code,
                       std::chrono::duration<double> latency);
  void set_watchers(size_t open);
  std::string render(store::Store& store);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace solti::api
