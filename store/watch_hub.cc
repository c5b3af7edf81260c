#include "store/watch_hub.h"

#include <atomic>

namespace solti::store {
namespace {

size_t event_bytes(const Event& e) {
  return e.key.size() + (e.value ? e.value->size() : 0) +
         (e.prev_value ? e.prev_value->size() : 0) + sizeof(Event);
}

bool has_prefix(std::string_view key, std::string_view prefix) {
  return key.substr(0, prefix.size()) == prefix;
}

}  // namespace

class HubWatcher final : public Watcher {
 public:
  // `live`: the ring held the watcher's start when it was created.
  HubWatcher(std::shared_ptr<WatchHub::State> state, std::string prefix, uint64_t after,
             History* history, bool live)
      : state_(std::move(state)),
        prefix_(std::move(prefix)),
        cursor_(after),
        history_(history),
        live_(live) {}

  ~HubWatcher() override {
    std::lock_guard lock(state_->mu);
    --state_->watchers;
  }

  Result<std::vector<Event>> next(std::chrono::steady_clock::time_point deadline,
                                  size_t max_events) override {
    if (max_events == 0) max_events = 1;
    while (true) {
      if (cancelled_) return Status(StatusCode::kUnavailable, "watch cancelled");
      if (!live_) {
        {
          std::lock_guard lock(state_->mu);
          if (state_->closed) return Status(StatusCode::kUnavailable, "store closed");
          live_ = cursor_ + 1 >= state_->oldest_locked();
        }
        if (!live_) {
          auto events = history_->read_history(cursor_, max_events);
          if (!events.ok()) return events.status();
          if (events->empty()) {
            live_ = true;  // nothing older than the ring is left to read
            continue;
          }
          cursor_ = events->back().revision;
          std::vector<Event> matched;
          for (auto& e : *events) {
            if (has_prefix(e.key, prefix_)) matched.push_back(std::move(e));
          }
          if (!matched.empty()) return matched;
          continue;
        }
      }

      std::unique_lock lock(state_->mu);
      if (state_->closed) return Status(StatusCode::kUnavailable, "store closed");
      const uint64_t oldest = state_->oldest_locked();
      if (cursor_ + 1 < oldest) {
        return Status(StatusCode::kExpired,
                      "watcher fell too far behind (next revision " + std::to_string(cursor_ + 1) +
                          " left the watch cache); watch again from the last resourceVersion");
      }
      std::vector<Event> matched;
      for (size_t i = cursor_ + 1 - oldest; i < state_->ring.size(); ++i) {
        const Event& e = state_->ring[i];
        cursor_ = e.revision;
        if (has_prefix(e.key, prefix_)) {
          matched.push_back(e);
          if (matched.size() == max_events) break;
        }
      }
      if (!matched.empty()) return matched;
      if (std::chrono::steady_clock::now() >= deadline) return std::vector<Event>{};
      state_->changed.wait_until(lock, deadline);
    }
  }

  void cancel() override {
    cancelled_ = true;
    std::lock_guard lock(state_->mu);
    state_->changed.notify_all();
  }

 private:
  std::shared_ptr<WatchHub::State> state_;
  std::string prefix_;
  uint64_t cursor_;  // the last revision examined
  History* history_;
  bool live_;  // reading the ring; false while catching up from History
  std::atomic<bool> cancelled_{false};
};

WatchHub::WatchHub(size_t max_events, size_t max_bytes, uint64_t last_revision)
    : state_(std::make_shared<State>()) {
  state_->max_events = max_events == 0 ? 1 : max_events;
  state_->max_bytes = max_bytes;
  state_->last_revision = last_revision;
}

void WatchHub::publish(std::vector<Event> events) {
  if (events.empty()) return;
  {
    std::lock_guard lock(state_->mu);
    for (auto& e : events) {
      state_->ring_bytes += event_bytes(e);
      state_->last_revision = e.revision;
      state_->ring.push_back(std::move(e));
    }
    while (state_->ring.size() > 1 &&
           (state_->ring.size() > state_->max_events || state_->ring_bytes > state_->max_bytes)) {
      state_->ring_bytes -= event_bytes(state_->ring.front());
      state_->ring.pop_front();
    }
  }
  state_->changed.notify_all();
  listeners_->call_all();
}

void WatchHub::close() {
  {
    std::lock_guard lock(state_->mu);
    state_->closed = true;
  }
  state_->changed.notify_all();
  listeners_->call_all();
}

void WatchHub::Listeners::call_all() {
  std::lock_guard lock(mu);
  for (auto& [id, listener] : by_id) listener();
}

class HubSubscription final : public PublishSubscription {
 public:
  HubSubscription(std::shared_ptr<WatchHub::Listeners> listeners, uint64_t id)
      : listeners_(std::move(listeners)), id_(id) {}
  ~HubSubscription() override {
    std::lock_guard lock(listeners_->mu);
    listeners_->by_id.erase(id_);
  }

 private:
  std::shared_ptr<WatchHub::Listeners> listeners_;
  uint64_t id_;
};

std::unique_ptr<PublishSubscription> WatchHub::on_publish(std::function<void()> listener) {
  std::lock_guard lock(listeners_->mu);
  const uint64_t id = listeners_->next_id++;
  listeners_->by_id.emplace(id, std::move(listener));
  return std::make_unique<HubSubscription>(listeners_, id);
}

size_t WatchHub::watchers() const {
  std::lock_guard lock(state_->mu);
  return state_->watchers;
}

size_t WatchHub::cached_bytes() const {
  std::lock_guard lock(state_->mu);
  return state_->ring_bytes;
}

std::unique_ptr<Watcher> WatchHub::watch(std::string prefix, uint64_t after, History* history) {
  std::lock_guard lock(state_->mu);
  ++state_->watchers;
  const bool live = after + 1 >= state_->oldest_locked();
  return std::make_unique<HubWatcher>(state_, std::move(prefix), after, history, live);
}

}  // namespace solti::store
