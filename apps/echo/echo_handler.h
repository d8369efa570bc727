// The echo service: every byte back, in order. After the client half-closes, what is queued is
// still sent, then the connection closes. Output is bounded: past the high-water mark the handler
// stops reading until the client reads again.
#pragma once
#include <asyncore/asyncore.h>
#include <asyncore/stream/buffered_stream.h>
#include <asyncore/net/tcp_server.h>

namespace asyncore::echo {

class EchoHandler final : public BufferedStream {
 public:
  // Rechecked interest: BufferedStream re-checks on every change of its queue or pause, and
  // this class adds no state of its own, so a message costs no readable()/writable() calls.
  EchoHandler(Fd socket, const Address& peer, ChannelMap* map) : BufferedStream(std::move(socket), peer, map) {
    set_interest(Interest::rechecked);
  }
  void handle_read() override;
  void handle_eof() override { close_when_done(); }
  void handle_close() override { close(); }
};

// The echo port: an EchoHandler per connection; connections past the caps are closed at accept,
// counted and logged as "echo listener".
std::shared_ptr<TcpServer> listen_echo(const Address& address, ChannelMap& map, ConnectionCaps caps = {});

}  // namespace asyncore::echo
