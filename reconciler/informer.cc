#include "reconciler/informer.h"

namespace solti::reconciler {
namespace {

class RegistryListWatch final : public ListWatch {
 public:
  explicit RegistryListWatch(api::Registry& registry) : registry_(registry) {}
  Result<api::ListPage> list() override { return registry_.list("", api::ListQuery{}); }
  Result<std::unique_ptr<api::WatchStream>> watch(const std::string& resource_version) override {
    api::WatchQuery query;
    query.resource_version = resource_version;
    return registry_.watch("", query);
  }

 private:
  api::Registry& registry_;
};

Json parse(const std::string& text) { return Json::parse(text, nullptr, false); }

// The store writes only JSON objects, so unreadable text is a bug upstream;
// it keys as "/" rather than stopping the informer.
ObjectIdentity identity(const std::string& text) {
  return read_identity(text).value_or(ObjectIdentity{});
}

}  // namespace

std::unique_ptr<ListWatch> registry_list_watch(api::Registry& registry) {
  return std::make_unique<RegistryListWatch>(registry);
}

Informer::Informer(ListWatch& source, Handler on_change)
    : source_(source), on_change_(std::move(on_change)) {}

std::string Informer::key_of(std::string_view ns, std::string_view name) {
  std::string key;
  key.reserve(ns.size() + 1 + name.size());
  return key.append(ns).append("/").append(name);
}

Status Informer::relist() {
  auto page = source_.list();
  if (!page.ok()) return page.status();
  std::map<std::string, api::RawObject> fresh;
  for (const auto& item : page->items) fresh.emplace(key_of(identity(*item)), item);
  std::vector<std::string> changed;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, object] : fresh) {
      auto old = cache_.find(key);
      // The store writes an object's text once, so equal text is an
      // unchanged object.
      if (old == cache_.end() || *old->second != *object) changed.push_back(key);
    }
    for (const auto& [key, object] : cache_) {
      if (!fresh.count(key)) changed.push_back(key);  // deleted while we were not watching
    }
    cache_ = std::move(fresh);
    resource_version_ = page->resource_version;
    synced_ = true;
  }
  for (const auto& key : changed) on_change_(key);
  auto stream = source_.watch(page->resource_version);
  if (!stream.ok()) return stream.status();
  stream_ = std::move(stream).value();
  return Status::Ok();
}

Status Informer::pump(std::chrono::steady_clock::time_point deadline) {
  if (!stream_) {
    if (Status s = relist(); !s.ok()) return s;
  }
  auto events = stream_->next(deadline);
  if (!events.ok()) {
    stream_.reset();
    if (events.status().code() == StatusCode::kExpired) return relist();
    return events.status();
  }
  for (const auto& event : *events) {
    const ObjectIdentity id = identity(*event.object);
    const std::string key = key_of(id);
    {
      std::lock_guard lock(mu_);
      if (event.type == "DELETED") {
        cache_.erase(key);
      } else {
        cache_[key] = event.object;
      }
      if (!id.resource_version.empty()) resource_version_ = id.resource_version;
    }
    on_change_(key);
  }
  return Status::Ok();
}

api::RawObject Informer::cached(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : it->second;
}

std::optional<Json> Informer::get(const std::string& key) const {
  api::RawObject text = cached(key);
  if (!text) return std::nullopt;
  return parse(*text);
}

std::optional<std::string> Informer::resource_version_of(const std::string& key) const {
  api::RawObject text = cached(key);
  if (!text) return std::nullopt;
  return identity(*text).resource_version;
}

std::vector<std::string> Informer::keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [key, object] : cache_) out.push_back(key);
  return out;
}

bool Informer::synced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

std::string Informer::resource_version() const {
  std::lock_guard lock(mu_);
  return resource_version_;
}

}  // namespace solti::reconciler
