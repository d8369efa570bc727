#include <asyncore/net/tcp_server.h>

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <system_error>

namespace asyncore {
namespace {

// A Unix socket file is stale when nothing accepts connections on it any more.
bool is_stale_unix_socket(const Address& address) {
  struct stat st {};
  if (::lstat(address.path().c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) return false;
  auto raw = address.raw();
  return ::connect(probe.get(), raw.get(), raw.length) != 0 && errno == ECONNREFUSED;
}

}  // namespace

TcpServer::TcpServer(Address address, ChannelMap* map) : TcpServer(std::move(address), nullptr, map) {}

TcpServer::TcpServer(Address address, HandlerFactory factory, ChannelMap* map)
    : Dispatcher(map), server_address(std::move(address)), address_family(server_address.family()),
      factory_(std::move(factory)), limits_("TcpServer " + server_address.to_string(), this->map()) {
  if (server_address.empty()) throw std::invalid_argument("TcpServer: no address to listen on");
  set_interest(Interest::declared);  // readable()/writable() change only with a re-check
}

TcpServer::~TcpServer() {
  if (!unix_path_to_remove_.empty()) ::unlink(unix_path_to_remove_.c_str());
}

void TcpServer::start() {
  try {
    create_socket(address_family, SOCK_STREAM);
    if (allow_reuse_address) set_reuse_addr();
    if (allow_reuse_port) set_reuse_port();
    server_bind();
    server_activate();
    limits_.name = describe();  // names the bound address
    limits_.caps = {max_connections, max_per_peer};  // reported as configured before the first accept
  } catch (const std::system_error& e) {
    close();
    throw std::system_error(e.code(), "TcpServer on " + server_address.to_string() + ": " + e.what());
  }
}

void TcpServer::server_bind() {
  if (server_address.family() == AF_UNIX && allow_reuse_address && is_stale_unix_socket(server_address)) {
    ::unlink(server_address.path().c_str());
  }
  bind(server_address);
  if (server_address.family() == AF_UNIX) {
    unix_path_to_remove_ = server_address.path();
  } else {
    server_address = addr;  // the real port when 0 was asked for
  }
}

void TcpServer::server_activate() { listen(request_queue_size); }

void TcpServer::serve_forever() { map().run(); }

void TcpServer::server_close() {
  close();
  limits_.flush_log();
  if (!unix_path_to_remove_.empty()) {
    ::unlink(unix_path_to_remove_.c_str());
    unix_path_to_remove_.clear();
  }
}

bool TcpServer::verify_request(const Fd&, const Address&) { return true; }

void TcpServer::process_request(Fd socket, const Address& peer) {
  if (!factory_) {
    throw std::logic_error("TcpServer on " + server_address.to_string() +
                           ": no handler factory given and process_request() not overridden");
  }
  factory_(std::move(socket), peer);
}

void TcpServer::handle_accepted(Fd socket, const Address& peer) {
  limits_.caps = {max_connections, max_per_peer};
  if (auto refusal = limits_.check(peer)) return refuse(socket, peer, *refusal);
  if (!verify_request(socket, peer)) return refuse(socket, peer, Refusal::verify_request);

  const int fd = socket.get();
  try {
    process_request(std::move(socket), peer);
  } catch (const std::exception& error) {
    ++request_errors_;
    handle_request_error(peer, error);
    return;
  }
  limits_.track(fd, peer);
}

void TcpServer::handle_refused(const Fd&, const Address& peer, Refusal reason) { limits_.log_refusal(peer, reason); }

void TcpServer::handle_request_error(const Address& peer, const std::exception& error) {
  log_error(describe() + ": process_request for " + peer.to_string() + " failed: " + type_name(typeid(error)) +
            ": " + error.what());
}

void TcpServer::refuse(const Fd& socket, const Address& peer, Refusal reason) {
  limits_.count_refusal(reason);
  handle_refused(socket, peer, reason);
  // The caller's Fd closes the connection when it goes out of scope.
}

std::shared_ptr<TcpServer> make_server(const Address& address, TcpServer::HandlerFactory factory, ListenerOptions options,
                                       ChannelMap* map) {
  auto server = std::make_shared<TcpServer>(address, std::move(factory), map);
  server->set_caps(options.caps);
  server->request_queue_size = options.backlog;
  server->accept_batch = options.accept_batch;
  server->allow_reuse_port = options.reuse_port;
  server->start();  // from here the map owns it
  if (!options.name.empty()) server->limits().name = std::move(options.name);
  server->limits().on_refused = std::move(options.on_refused);
  return server;
}

}  // namespace asyncore
