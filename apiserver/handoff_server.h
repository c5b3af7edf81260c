// HandoffServer: a cpp-httplib server whose handlers can take their
// connection's socket over.
//
// cpp-httplib serves each connection on one pool thread until it closes, so a
// long response (a watch) holds a thread, and a thousand watches a thousand
// threads that each wake for every event. A handler on a HandoffServer can
// instead claim the socket while cpp-httplib writes its response: the
// response's content provider calls take_connection(), hands the socket to an
// event loop and returns false, and cpp-httplib then neither writes to,
// shuts down nor closes the socket; the pool thread is free again.
//
// It also serves connections differently: cpp-httplib gives each
// connection a thread of its own, which sleeps in poll() between requests
// and is woken for each one, and under load those sleeps and wakes were the
// largest cost after the requests themselves. Here a connection waiting for
// its next request sits in one epoll set, and a crew of runner threads (a
// few per core) takes whichever connection is ready: under load a runner
// goes from one request to the next without sleeping. A runner that blocks
// (a write waiting for its fsync, a slow client, a long response) is noticed
// within a millisecond or two and another takes its place, so a blocked
// request never holds up the others. Requests are parsed, routed and
// answered by cpp-httplib, with its timeouts; keep-alive is the server's.
//
// A handler can also answer later, from another thread, without its
// connection's thread waiting (reply_later()): a create answers once its
// write is durable, from the store's committing thread, while the
// connection's thread already waits for the client's next request.
#pragma once

#include <httplib.h>

#include <memory>

namespace solti::api {

class HandoffServer final : public httplib::Server {
 public:
  // A connection beyond `max_connections` at once waits (unread) until one
  // closes; beyond as many again waiting, one is answered 503 and closed.
  explicit HandoffServer(size_t max_connections);
  ~HandoffServer() override;

  // On a HandoffServer connection thread, inside a content provider: the
  // connection's socket, which the caller now owns (it must close it), with
  // the response headers already sent. -1 elsewhere (a TLS server, a second
  // call), and the caller goes on writing through the DataSink.
  static int take_connection();

  // The answer to a request, sent once from any thread. A reply destroyed
  // unsent answers 500, so that a client is never left waiting.
  class LateReply {
   public:
    struct Slot;
    explicit LateReply(std::shared_ptr<Slot> slot);
    LateReply(const LateReply&) = delete;
    LateReply& operator=(const LateReply&) = delete;
    ~LateReply();
    // Writes `response` (its status, headers and body; never compressed)
    // without blocking; later calls do nothing.
    void send(const httplib::Response& response);

   private:
    std::shared_ptr<Slot> slot_;
  };

  // Inside a handler, before it waits (for a write's fsync, another
  // thread): on a crew runner, another runner takes this one's place at
  // once rather than once the wait has lasted a millisecond, until the
  // request is answered. Elsewhere nothing.
  static void about_to_block();

  // On a HandoffServer connection thread, inside a handler: the request is
  // answered through the returned reply instead of the handler's Response,
  // which is dropped. The connection's thread goes on to the next request
  // at once and writes nothing more on the connection (nor closes it) until
  // the reply is sent. Null elsewhere (a TLS server), and the handler
  // answers as usual.
  static std::shared_ptr<LateReply> reply_later(const httplib::Request& request);
  // True while the current request's Response is the dropped one (for a
  // logger: the request is answered later).
  static bool replying_later();

 private:
  class Crew;

  // Hands `sock` to the crew. The first call (a thread of cpp-httplib's task
  // queue) supervises the crew until the server stops and every connection
  // is closed, so that listen() returns only then.
  bool process_and_close_socket(socket_t sock) override;

  std::unique_ptr<Crew> crew_;
};

}  // namespace solti::api
