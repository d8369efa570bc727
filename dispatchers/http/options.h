// Settings of an HTTP server and of each of its connections.
#pragma once
#include <cstddef>
#include <string>

#include <asyncore/stream/buffered_stream.h>
#include <asyncore/http/parser.h>

namespace asyncore::http {

struct HttpServerOptions {
  HttpLimits limits;             // head, header count and body sizes (431 / 413)
  double header_timeout = 10;    // seconds to send a whole head once it began, or the first one (408)
  double body_timeout = 30;      // seconds without progress while a body is arriving (408)
  // And a whole-body deadline, as Apache's mod_reqtimeout "body=30,MinRate=500": a body must be
  // complete body_timeout seconds after it began plus one second per body_min_rate bytes
  // received, so a body trickled a byte at a time cannot hold a connection forever (0: none).
  double body_min_rate = 500;
  double idle_timeout = 30;      // keep-alive: seconds of silence between requests before closing
  double linger_timeout = 2;     // after a closing response: seconds to drain the client's input
  size_t max_requests_per_connection = 0;  // 0: no limit; the last one is answered with "close"
  size_t max_pipelined = 16;     // answers waiting (e.g. behind an asynchronous one) before reading pauses
  StreamLimits output;           // queued output per connection (reading pauses past high water)
  std::string server_header;     // the Server header value; "" sends none
  int backlog = 511;
  // Connections open at once, and from one peer host; more are closed at accept (0: no limit).
  size_t max_connections = 1024;
  size_t max_per_peer = 256;
  bool reuse_port = false;  // SO_REUSEPORT: share the port with other processes (workers)
};

}  // namespace asyncore::http
