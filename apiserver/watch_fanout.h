// WatchFanout: streams watch responses from a few event-loop threads.
//
// A watch served by a cpp-httplib thread parks that thread in the store's
// next() and wakes it for every commit: a thousand watchers are a thousand
// threads and a thousand context switches per event. The fanout instead owns
// the watches' sockets (see HandoffServer) and polls each watch's source,
// without waiting, when the store publishes, when the watch's own timer (a
// bookmark, its deadline) fires, and after each write. A watch whose client
// reads slowly is not polled while its write is pending; it falls behind in
// the store's ring and is ended there (410), as before. One that takes no
// write for `write_timeout` is closed.
//
// Thread safety: every method may be called from any thread. A source is
// only ever called from its loop's thread, and destroyed there (or in
// stop()).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "store/store.h"

namespace solti::api {

// What one watch response says, piece by piece.
class WatchSource {
 public:
  struct Chunk {
    std::string text;   // watch event lines, possibly none
    bool last = false;  // the response ends after `text`
  };

  virtual ~WatchSource() = default;
  // What the watch has to say, waiting for events until `wait_until` at
  // most (a past time: not at all).
  virtual Chunk next(std::chrono::steady_clock::time_point wait_until) = 0;
  // When next() will have something to say even without new events: the
  // next bookmark or the end of the watch.
  virtual std::chrono::steady_clock::time_point wake_time() const = 0;
};

class WatchFanout {
 public:
  // Runs `threads` event loops (at least one) and polls their watches
  // whenever `store` publishes. `store` must outlive the fanout. A watch
  // whose write has waited `write_timeout` (checked each second) is closed.
  WatchFanout(store::Store& store, size_t threads, std::chrono::milliseconds write_timeout);
  ~WatchFanout();
  WatchFanout(const WatchFanout&) = delete;
  WatchFanout& operator=(const WatchFanout&) = delete;

  // Streams `source` on `socket` as an HTTP/1.1 chunked body (the response
  // headers are already sent) until the source ends or the client leaves,
  // then closes the socket. Takes ownership of the socket. After stop() the
  // socket is closed at once.
  void serve(int socket, std::shared_ptr<WatchSource> source);
  // Ends every watch (its client sees the body end when its socket has
  // room) and joins the loops.
  void stop();

 private:
  class Loop;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::unique_ptr<store::PublishSubscription> subscription_;
  std::atomic<size_t> next_loop_{0};
};

}  // namespace solti::api
