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
// To do this the server runs its own keep-alive loop per connection (the one
// in cpp-httplib cannot be told to leave a socket open), with the same
// timeouts, and cpp-httplib's request parsing, routing and response writing.
#pragma once

#include <httplib.h>

namespace solti::api {

class HandoffServer final : public httplib::Server {
 public:
  // On a HandoffServer connection thread, inside a content provider: the
  // connection's socket, which the caller now owns (it must close it), with
  // the response headers already sent. -1 elsewhere (a TLS server, a second
  // call), and the caller goes on writing through the DataSink.
  static int take_connection();

 private:
  bool process_and_close_socket(socket_t sock) override;
};

}  // namespace solti::api
