#include "dispatchers/tcp_server.h"

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

constexpr size_t kFirstPrune = 64;

}  // namespace

const char* refusal_name(Refusal reason) {
  switch (reason) {
    case Refusal::verify_request: return "verify_request";
    case Refusal::max_connections: return "max_connections";
    case Refusal::max_per_peer: return "max_per_peer";
  }
  return "?";
}

TcpServer::TcpServer(Address address, ChannelMap* map) : TcpServer(std::move(address), nullptr, map) {}

TcpServer::TcpServer(Address address, HandlerFactory factory, ChannelMap* map)
    : Dispatcher(map), server_address(std::move(address)), address_family(server_address.family()),
      factory_(std::move(factory)) {
  if (server_address.empty()) throw std::invalid_argument("TcpServer: no address to listen on");
}

TcpServer::~TcpServer() {
  if (!unix_path_to_remove_.empty()) ::unlink(unix_path_to_remove_.c_str());
}

void TcpServer::start() {
  try {
    create_socket(address_family, SOCK_STREAM);
    if (allow_reuse_address) set_reuse_addr();
    server_bind();
    server_activate();
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
  const std::string host = peer.host();
  if (max_connections > 0 && tracked_ >= max_connections) {
    prune_all();
    if (tracked_ >= max_connections) return refuse(socket, peer, Refusal::max_connections);
  }
  if (max_per_peer > 0 && count_peer(host) >= max_per_peer) return refuse(socket, peer, Refusal::max_per_peer);
  if (!verify_request(socket, peer)) return refuse(socket, peer, Refusal::verify_request);

  const int fd = socket.get();
  try {
    process_request(std::move(socket), peer);
  } catch (const std::exception& error) {
    ++request_errors_;
    handle_request_error(peer, error);
    return;
  }
  track(fd, host);
}

void TcpServer::handle_refused(const Fd&, const Address& peer, Refusal reason) {
  std::string why = refusal_name(reason);
  if (reason == Refusal::max_connections) why += " " + std::to_string(max_connections) + " reached";
  if (reason == Refusal::max_per_peer) why += " " + std::to_string(max_per_peer) + " reached";
  log_warning(describe() + ": refused " + peer.to_string() + ": " + why);
}

void TcpServer::handle_request_error(const Address& peer, const std::exception& error) {
  log_error(describe() + ": process_request for " + peer.to_string() + " failed: " + type_name(typeid(error)) +
            ": " + error.what());
}

void TcpServer::refuse(const Fd& socket, const Address& peer, Refusal reason) {
  ++refused_[static_cast<size_t>(reason)];
  handle_refused(socket, peer, reason);
  // The caller's Fd closes the connection when it goes out of scope.
}

size_t TcpServer::refused_total() const {
  size_t total = 0;
  for (size_t n : refused_) total += n;
  return total;
}

bool TcpServer::still_open(const Connection& c) const {
  return map().find(c.fd) != nullptr && map().generation_of(c.fd) == c.generation;
}

void TcpServer::track(int fd, const std::string& host) {
  // Only a connection whose dispatcher is in our map can be followed (and so limited).
  if (map().find(fd) == nullptr) return;
  connections_[host].push_back({fd, map().generation_of(fd)});
  ++tracked_;
  // Forget closed connections now and then, so tracking costs O(1) amortised per accept.
  if (tracked_ >= prune_at_) {
    prune_all();
    prune_at_ = std::max<size_t>(kFirstPrune, 2 * tracked_);
  }
}

size_t TcpServer::count_peer(const std::string& host) {
  auto it = connections_.find(host);
  if (it == connections_.end()) return 0;
  auto& list = it->second;
  const size_t before = list.size();
  std::erase_if(list, [this](const Connection& c) { return !still_open(c); });
  tracked_ -= before - list.size();
  if (list.empty()) {
    connections_.erase(it);
    return 0;
  }
  return list.size();
}

void TcpServer::prune_all() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    auto& list = it->second;
    const size_t before = list.size();
    std::erase_if(list, [this](const Connection& c) { return !still_open(c); });
    tracked_ -= before - list.size();
    it = list.empty() ? connections_.erase(it) : std::next(it);
  }
}

size_t TcpServer::active_connections() {
  prune_all();
  return tracked_;
}

}  // namespace asyncore
