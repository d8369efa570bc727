// TcpServer: a listening stream socket with socketserver's hooks, as asyncore programs write
// it (server_bind, server_activate, verify_request, process_request, request_queue_size,
// allow_reuse_address, address_family), for IPv4, IPv6 and Unix-domain addresses; plus
// connection limits, since every server needs them.
//
//   auto server = make_server<EchoHandler>(Address::parse("127.0.0.1:7007"));
//   announce_listening("echo", server->server_address);
//   server->serve_forever();
//
// The hooks are virtual, so a C++ constructor cannot call them as Python's __init__ does:
// construct, adjust the attributes, then start() (make_server does both).
//
// Limits (0: none): at most `max_connections` open connections, and `max_per_peer` from one
// peer host (all Unix-domain clients are one peer), kept by a ConnectionLimits. A connection
// counts while the dispatcher process_request() made for it is open in the server's map.
// Refused connections are closed at once, counted by reason and logged (rate-limited).
//
// Every server in the tree listens through this class: programs pass a handler factory and
// ListenerOptions to make_server() and keep only their session classes. Accepting itself is the
// Dispatcher's: up to `accept_batch` connections per readiness, and when the process is out of
// fds (EMFILE/ENFILE) a pause of 100 ms, one warning per episode, while the open connections are
// served.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include <asyncore/channel_map.h>
#include <asyncore/dispatcher.h>
#include <asyncore/net/connection_limits.h>

namespace asyncore {

class TcpServer : public Dispatcher {
 public:
  // Makes the dispatcher for one accepted connection (typically make<Handler>(std::move(s), map)).
  using HandlerFactory = std::function<void(Fd socket, const Address& peer)>;

  explicit TcpServer(Address address, ChannelMap* map = nullptr);
  TcpServer(Address address, HandlerFactory factory, ChannelMap* map = nullptr);
  ~TcpServer() override;

  // create_socket, set_reuse_addr (if allow_reuse_address), server_bind(), server_activate().
  // Errors name the address. Afterwards server_address holds the bound address (real port).
  void start();
  // asyncore.loop() on the server's map until stop(): serves this and every other channel.
  void serve_forever();
  // Closes the listener and removes a Unix socket file it created.
  void server_close();

  // --- socketserver's attributes -----------------------------------------------------------
  Address server_address;
  int address_family;            // from the address
  int request_queue_size = 128;  // listen() backlog
  // Sets SO_REUSEADDR; for a Unix path, removes a stale socket file nobody listens on.
  bool allow_reuse_address = true;
  // Sets SO_REUSEPORT: sibling processes listen on the same port and the kernel spreads the
  // connections among them (device-server --workers).
  bool allow_reuse_port = false;

  // --- limits ------------------------------------------------------------------------------
  size_t max_connections = 0;
  size_t max_per_peer = 0;
  void set_caps(ConnectionCaps caps) { max_connections = caps.max_connections, max_per_peer = caps.max_per_peer; }
  size_t active_connections() { return limits_.active(); }  // counted against the limits now
  size_t refused(Refusal reason) const { return limits_.refused(reason); }
  size_t refused_total() const { return limits_.refused_total(); }
  size_t request_errors() const { return request_errors_; }
  ConnectionLimits& limits() { return limits_; }  // its name, log interval and counters
  const ConnectionLimits& limits() const { return limits_; }

  // --- hooks -------------------------------------------------------------------------------
  virtual void server_bind();
  virtual void server_activate();
  // Return false to refuse the connection (it is closed, logged and counted).
  virtual bool verify_request(const Fd& socket, const Address& peer);
  // Default: calls the factory. An override makes the handler itself (in map()).
  virtual void process_request(Fd socket, const Address& peer);

  void handle_accepted(Fd socket, const Address& peer) override;
  void handle_close() override { server_close(); }

 protected:
  // Called with a connection being refused, before it is closed. Default: logs a warning
  // (the first of an episode, then a summary line every limits().log_interval seconds).
  virtual void handle_refused(const Fd& socket, const Address& peer, Refusal reason);
  // process_request() threw: the connection is dropped, the server keeps listening.
  // Default: logs an error.
  virtual void handle_request_error(const Address& peer, const std::exception& error);

 private:
  void refuse(const Fd& socket, const Address& peer, Refusal reason);

  HandlerFactory factory_;
  ConnectionLimits limits_;
  size_t request_errors_ = 0;
  std::string unix_path_to_remove_;
};

// What a program sets on its listener, in one place; make_server() applies it before start().
struct ListenerOptions {
  std::string name = {};  // starts the refusal log lines ("echo listener: refused ..."); default the address
  ConnectionCaps caps = {};
  int backlog = 128;      // request_queue_size
  int accept_batch = 64;  // connections accepted per readiness (a login storm wants more)
  bool reuse_port = false;
  std::function<void(Refusal)> on_refused = nullptr;  // e.g. a metrics counter, told of every refusal
};

// A started server, owned by the map until it closes, whose connections the factory makes.
// Throws std::system_error naming the address when it cannot listen.
std::shared_ptr<TcpServer> make_server(const Address& address, TcpServer::HandlerFactory factory,
                                       ListenerOptions options = {}, ChannelMap* map = nullptr);

// A started server whose connections are `Handler(Fd, ChannelMap*)` dispatchers owned by the map.
template <class Handler>
std::shared_ptr<TcpServer> make_server(const Address& address, ChannelMap* map = nullptr) {
  ChannelMap* m = map ? map : &socket_map();
  return make_server(address, [m](Fd socket, const Address&) { make<Handler>(std::move(socket), m); }, {}, m);
}

}  // namespace asyncore
