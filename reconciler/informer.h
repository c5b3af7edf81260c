// An informer (controller-runtime's cache): a local copy of one resource
// kept current by list + watch, calling a handler with the key
// ("namespace/name") of every object that was added, changed or deleted.
// When the watch falls out of the retained history (Expired) it lists
// again and reports every key that changed meanwhile, deletions included,
// so a level-triggered reconciler misses nothing.
//
// It reads through ListWatch, so the same code serves an in-process
// registry now and an HTTP client when the reconciler runs as a remote
// agent (DESIGN §10). Thread-safe: pump() runs on one thread; get(),
// keys() and synced() may be called from any.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apiserver/registry.h"
#include "model/json_codec.h"

namespace solti::reconciler {

class ListWatch {
 public:
  virtual ~ListWatch() = default;
  virtual Result<api::ListPage> list() = 0;
  virtual Result<std::unique_ptr<api::WatchStream>> watch(const std::string& resource_version) = 0;
};

// ListWatch over an in-process registry, all namespaces.
std::unique_ptr<ListWatch> registry_list_watch(api::Registry& registry);

class Informer {
 public:
  using Handler = std::function<void(const std::string& key)>;

  Informer(ListWatch& source, Handler on_change);

  // Lists (the first time, or after Expired) and then applies watch events
  // until `deadline`. Errors other than Expired are returned.
  Status pump(std::chrono::steady_clock::time_point deadline);

  std::optional<Json> get(const std::string& key) const;
  // The cached object's resourceVersion; nullopt when the key is absent.
  std::optional<std::string> resource_version_of(const std::string& key) const;
  std::vector<std::string> keys() const;
  bool synced() const;
  // The resourceVersion the cache reflects.
  std::string resource_version() const;

  // The key the handler is called with: "namespace/name".
  static std::string key_of(std::string_view ns, std::string_view name);
  static std::string key_of(const ObjectIdentity& identity) {
    return key_of(identity.namespace_, identity.name);
  }

 private:
  Status relist();
  api::RawObject cached(const std::string& key) const;  // null when absent

  ListWatch& source_;
  Handler on_change_;
  std::unique_ptr<api::WatchStream> stream_;
  mutable std::mutex mu_;
  // Each object as the store's JSON text, shared with the watch cache:
  // a parsed Json took ~10x the memory (scale_bench); get() parses.
  std::map<std::string, api::RawObject> cache_;
  std::string resource_version_;
  bool synced_ = false;
};

}  // namespace solti::reconciler
