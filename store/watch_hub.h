// The watch hub (internal to store/): fans committed events out to watchers.
//
// The commit path publishes each batch of events, in revision order and
// without gaps, into one in-memory ring shared by all watchers. A watcher is
// a cursor over that ring, so memory is bounded by the ring, whatever the
// number of watchers or how slowly they read. A watcher that starts behind
// the ring first catches up from the on-disk History; a live watcher whose
// cursor falls off the end of the ring is ended with kExpired (the client
// re-watches from its last revision, or re-lists). Publishing never waits
// for a watcher.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/store.h"

namespace solti::store {

// Committed history older than the ring, read from disk.
class History {
 public:
  virtual ~History() = default;
  // Up to `max_events` consecutive events from revision after+1 on; fewer
  // (possibly none) when that is all there is. kExpired when compaction has
  // removed revision after+1.
  virtual Result<std::vector<Event>> read_history(uint64_t after, size_t max_events) = 0;
};

class WatchHub {
 public:
  WatchHub(size_t max_events, size_t max_bytes, uint64_t last_revision);

  // `events` continue the revisions already published, without gaps.
  void publish(std::vector<Event> events);
  // Ends every watcher with kUnavailable.
  void close();

  size_t watchers() const;
  // What the event ring holds, in bytes.
  size_t cached_bytes() const;

  // `history` must outlive the watcher.
  std::unique_ptr<Watcher> watch(std::string prefix, uint64_t after, History* history);
  // See Store::on_publish.
  std::unique_ptr<PublishSubscription> on_publish(std::function<void()> listener);

 private:
  friend class HubWatcher;
  friend class HubSubscription;

  struct State {
    mutable std::mutex mu;
    std::condition_variable changed;
    std::deque<Event> ring;  // consecutive revisions
    size_t ring_bytes = 0;
    uint64_t last_revision = 0;
    bool closed = false;
    size_t watchers = 0;
    size_t max_events;
    size_t max_bytes;

    // The oldest revision the ring can serve (last_revision + 1 when empty).
    uint64_t oldest_locked() const {
      return ring.empty() ? last_revision + 1 : ring.front().revision;
    }
  };

  // Separate from State::mu so that listeners run without holding the ring.
  struct Listeners {
    std::mutex mu;
    uint64_t next_id = 0;
    std::map<uint64_t, std::function<void()>> by_id;
    void call_all();
  };

  std::shared_ptr<State> state_;
  std::shared_ptr<Listeners> listeners_ = std::make_shared<Listeners>();
};

}  // namespace solti::store
